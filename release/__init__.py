"""Release tooling: the bundle's version, its changelog, upgrade checks on the tables and `make release`'s dist/."""
