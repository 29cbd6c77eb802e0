"""Simulator benchmark (see interseg.evaluation.sim_benchmark): prints and saves JSON under
benchmarks/results/. Usage: .venv/bin/python benchmarks/sim_bench.py [--attempts 100] [--no-shadows]"""

import sys

from interseg.evaluation.sim_benchmark import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
