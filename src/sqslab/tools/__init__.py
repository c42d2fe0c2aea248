"""The bench's tooling, run from the Makefile; notebooks and graded tests never import it.

- :mod:`.bench`: ``make bench``, how fast the course and the bench run;
- :mod:`.benchprobe`: what ``make bench`` learns from inside a notebook's kernel;
- :mod:`.facts`: the SQS facts the course relies on, as checks against any endpoint;
- :mod:`.fidelity`: ``make fidelity``, which of those facts an endpoint honours.
"""
