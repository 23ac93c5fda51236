"""The benchmarks and the load test: `bench_matching`, `bench_csv_import`, `bench_reconcile`, `load_test`.

The top layer: it may import every app, and no app imports it. The commands share one fixture
builder (`benchmarks.fixtures`), the figures they print (`benchmarks.measures`) and the handling
of their scratch tenant (`benchmarks.scratch`); the load test's parts are in `benchmarks.load`.
"""
