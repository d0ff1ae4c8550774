"""``surveytool.score_frame``: pandas in, pandas out, for engines that hand out pandas batches
(Spark's mapInPandas, Ray's map_batches, Dask's map_partitions); tested as a plain function, after
a pickle round trip (how those engines ship it), and under Dask's map_partitions on the cluster."""

from __future__ import annotations

import itertools
import pickle

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client

import surveytool
from surveytool.instrument.model import Instrument


@pytest.fixture(scope="module")
def ppai() -> Instrument:
    return surveytool.load_instrument("ppai")


@pytest.fixture(scope="module")
def batch(ppai: Instrument) -> pd.DataFrame:
    frame = surveytool.simulate(ppai, surveytool.SimulationSpec(n=90, seed=2, missing=0.1))
    frame.loc[4, "DS5"] = 8  # off the scale: missing in the score, the row still scored
    ids = frame["respondent_id"].tolist()
    ids[7] = ids[6]  # a repeat: left out
    frame["respondent_id"] = ids
    return frame


def test_plain_function_equals_score(ppai: Instrument, batch: pd.DataFrame) -> None:
    got = surveytool.score_frame(ppai, batch, id_column="respondent_id")
    expected = surveytool.score(ppai, batch, id_column="respondent_id")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert len(got) == 89  # the repeated id's row is quarantined
    by_id = surveytool.score_frame("ppai", batch, id_column="respondent_id")  # a bundled id
    pd.testing.assert_frame_equal(by_id, expected, check_exact=True)
    # rows numbered from row_offset + 1 without an id column; scores unchanged
    numbered = surveytool.score_frame(ppai, batch, row_offset=1000)
    assert numbered["row"].tolist() == list(range(1001, 1091))
    plain = surveytool.score(ppai, batch)
    pd.testing.assert_frame_equal(numbered.drop(columns="row"), plain.drop(columns="row"))


def test_pickled_arguments(ppai: Instrument, batch: pd.DataFrame) -> None:
    inst, frame = pickle.loads(pickle.dumps((ppai, batch)))
    assert inst.content_hash == ppai.content_hash
    pd.testing.assert_frame_equal(
        surveytool.score_frame(inst, frame, id_column="respondent_id"),
        surveytool.score(ppai, batch, id_column="respondent_id"),
        check_exact=True,
    )
    func = pickle.loads(pickle.dumps(surveytool.score_frame))
    assert func is surveytool.score_frame


def test_under_dask_map_partitions(
    ppai: Instrument, batch: pd.DataFrame, dask_client: Client
) -> None:
    frame = dd.from_pandas(batch, npartitions=3, sort=False)
    meta = surveytool.score_frame(ppai, batch.iloc[:2], id_column="respondent_id").iloc[:0]
    lazy = frame.map_partitions(
        lambda part: surveytool.score_frame(ppai, part, id_column="respondent_id"), meta=meta
    )
    got = lazy.compute().reset_index(drop=True)
    bounds = np.linspace(0, len(batch), 4).round().astype(int)
    expected = pd.concat(
        [
            surveytool.score_frame(ppai, batch.iloc[a:b], id_column="respondent_id")
            for a, b in itertools.pairwise(bounds)
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    scored = surveytool.score(ppai, batch, id_column="respondent_id")
    pd.testing.assert_frame_equal(got, scored, check_exact=True)  # the repeat is in one batch
