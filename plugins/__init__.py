"""First-party paper plugins (installed as `nasfw.plugins`), registered through the `nasfw` entry-point group."""
