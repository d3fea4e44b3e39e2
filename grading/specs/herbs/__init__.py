"""One TOML file per herb product (a package only so that wheels ship the files)."""
