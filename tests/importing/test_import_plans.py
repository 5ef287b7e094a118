"""A plan stored as JSON reads the same rows as the plan inspect_file made."""

from __future__ import annotations

import json

from bench.datagen import make_csv, make_vcf, make_xlsx
from importing import inspect_file, iter_rows
from importing.plans import plan_from_json, plan_to_json


def test_round_trip_reads_the_same_rows() -> None:
    for data in (make_csv(30), make_xlsx(30), make_vcf(30)):
        plan = inspect_file(data)
        stored = json.loads(json.dumps(plan_to_json(plan)))
        again = plan_from_json(stored)
        assert again is not None
        assert again.format is plan.format and again.total_rows == plan.total_rows
        assert list(iter_rows(data, again, start_after=5)) == list(
            iter_rows(data, plan, start_after=5)
        )


def test_an_unknown_version_asks_for_a_fresh_inspection() -> None:
    assert plan_from_json({}) is None
    assert plan_from_json({"version": 0}) is None
