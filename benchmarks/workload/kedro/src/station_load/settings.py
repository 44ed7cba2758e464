"""Project settings: Kedro's defaults (no hooks), as `kedro new` writes them."""

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
