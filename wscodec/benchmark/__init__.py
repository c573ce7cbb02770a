"""Benchmarks of wscodec against the installed WebSocket libraries.

``python -m wscodec bench`` (:mod:`.cli`) and the pytest-benchmark suites
under ``bench/`` share everything here:

* :mod:`.harness` -- the section dict every benchmark produces, and the
  checked, interleaved timing of cells;
* :mod:`.registry` -- the implementations compared (a row each), loaded
  only if installed;
* :mod:`.inputs`, :mod:`.oracle` -- seeded inputs and the reference answers;
* :mod:`.primitives` (``mask``, ``utf8``), :mod:`.frames` and
  :mod:`.frame_peers` (``frames``), :mod:`.deflate` and
  :mod:`.deflate_peers` (``deflate``) -- the sections and how each library
  is driven;
* :mod:`.memory` (``--memory``) -- memory per connection with
  permessage-deflate, measured in fresh processes;
* :mod:`.report` -- tables, JSON and the progress line.
"""
