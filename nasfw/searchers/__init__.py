"""Ask/tell searchers. Public names are re-exported here; each lives in its own module."""
from nasfw.searchers.base import FAILED, INFEASIBLE, LOST, OK, Result, Searcher, make_searcher
from nasfw.searchers.bayes import OptunaSearcher
from nasfw.searchers.evolution import OFAEvolution, RegularizedEvolution
from nasfw.searchers.nsga2 import NSGA2
from nasfw.searchers.random_search import RandomSearch
from nasfw.searchers.rl import PPO, Reinforce
from nasfw.searchers.tune_algos import TuneOptunaSearch

BUILTIN = (RandomSearch, RegularizedEvolution, OFAEvolution, NSGA2, Reinforce, PPO, OptunaSearcher, TuneOptunaSearch)

__all__ = ["FAILED", "INFEASIBLE", "LOST", "OK", "Result", "Searcher", "make_searcher", "OptunaSearcher",
           "OFAEvolution", "RegularizedEvolution", "NSGA2", "RandomSearch", "PPO", "Reinforce",
           "TuneOptunaSearch", "BUILTIN"]
