"""Config checking, before anything is built (nothing here imports torch at module level).

- ``schemas``: typed schemas (hardware, trainer); ``instantiate``: instantiation checked against signatures
- ``checks``: settings that contradict each other or do nothing; ``composition``: Hydra's refusals as one line;
  ``invocation``: the script's name and overrides as typed, which messages name; ``rerun``: the command that
  runs one of a sweep's runs again
- ``families``: the model families, declared once; ``search_path``: where Hydra finds config options
- ``errors``: :class:`UserError` (one line, exit 2); ``command_line``: the scripts' own run (Hydra's
  refusals as one line); ``quiet_stop``: a Ctrl-C or SIGTERM before training as one line; ``help``: ``train.py --help``
- ``file_problems``: mistakes inside a config file (conf/, experiments/ or a user's own), naming the file;
  ``interpolations``: the ``${...}`` a config holds, resolved once before anything is built; ``shapes``: a value of
  the wrong shape or type for a typed key; ``spelling``: values written back as a command line reads them
"""
