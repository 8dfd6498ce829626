"""reglab inside other training frameworks; each submodule needs its framework installed.

* ``reglab.integrations.lightning``: early stopping (restore-best, reasons, Prechelt's
  criteria), penalty gradients and update rules as Lightning callbacks
  (``pip install 'reglab[lightning]'``).

``import reglab`` never imports these.
"""
