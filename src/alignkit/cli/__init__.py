"""Layer 5: the ``alignkit`` command line. One module per command, each imported only when run."""
