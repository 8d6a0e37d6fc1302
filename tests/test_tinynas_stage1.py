"""TinyNAS stage 1 chooses MCUNet's own search space for the 320 kB / 1 MB board."""
import pytest

from nasfw.plugins.tinynas.stage1 import optimise_space


def test_stage1_picks_mcunets_space_for_320kb_1mb(tmp_path):
    out = optimise_space("stm32f746", memory="tinyengine", widths=(0.3, 0.4, 0.5, 0.6, 0.7),
                         resolutions=(128, 144, 160, 176, 192, 208), samples=200, plot=tmp_path / "cdf.png")
    best = out["best"]
    assert (best["width"], best["resolution"]) == (0.5, 176)  # the released mcunet-320kb-1mb is w0.5-r176
    assert best["fit"] >= 0.4 and (tmp_path / "cdf.png").stat().st_size > 5000
    # a tighter board pushes the choice to a smaller space
    small = optimise_space("stm32f412", memory="tinyengine", sram_kb=128, flash_kb=512,
                           widths=(0.3, 0.4, 0.5, 0.6), resolutions=(96, 128, 160, 176), samples=200)["best"]
    assert small["width"] * small["resolution"] < 0.5 * 176


def test_stage1_reports_every_cell_and_no_choice_when_nothing_fits():
    out = optimise_space("stm32f412", sram_kb=8, widths=(1.0,), resolutions=(224,), samples=20)
    assert out["best"] is None and out["cells"][0]["fit"] == pytest.approx(0.0)
