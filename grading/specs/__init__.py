"""Grade specifications as TOML data (a package only so that wheels ship the files)."""
