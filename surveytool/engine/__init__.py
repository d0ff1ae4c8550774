"""The Dask engine: cohorts larger than memory, partition by partition, with the same kernels.

The API that the core, ``analysis`` and the tests build on (small and stable)::

    from surveytool.engine import cluster, read_dataset, choose_engine, EngineError

    with cluster(workers=2, memory_limit="2GB"):       # distributed.LocalCluster (processes)
        data = read_dataset("responses/", text_columns=["respondent_id"])
        data.frame                                      # dask.dataframe.DataFrame, one
                                                        # partition per piece (<= 250k rows)
        data.offsets                                    # rows before each partition
        data.rows, data.pieces, data.files, data.schema

:func:`cluster` (:mod:`surveytool.engine.cluster`) yields a :class:`distributed.Client` that is
Dask's default scheduler inside the block; ``cluster(scheduler="tcp://host:8786")`` connects to
an existing cluster and ``cluster(synchronous=True)`` runs every task in this thread. A local
cluster has ``workers`` processes with one thread each, no dashboard and quiet logs.
:func:`read_dataset` (:mod:`surveytool.engine.datasets`) reads a folder of Parquet files or one
large file by row groups; its partitions hold what
:func:`~surveytool.io.sources.read_source` would hold for the same rows. :func:`choose_engine`
picks ``memory`` or ``dask`` for ``auto`` by size (:data:`~surveytool.engine.cluster.DASK_ROWS`,
or the environment variable ``SURVEYTOOL_DASK_ROWS``). Every user mistake (no Parquet in a
folder, files whose columns differ, an unreachable scheduler, zero workers) is an
:class:`EngineError` (a :class:`~surveytool.errors.SurveytoolError`: one line, no traceback).

Scoring on Dask is :mod:`surveytool.engine.scoring`.

Importing this package imports neither dask nor distributed; they load when used.
"""

from __future__ import annotations

from surveytool.engine.cluster import (
    DASK_ROWS,
    ENGINES,
    Engine,
    EngineError,
    activate,
    choose_engine,
    cluster,
    dask_threshold,
    parse_memory_limit,
)
from surveytool.engine.datasets import (
    PARTITION_ROWS,
    Dataset,
    Piece,
    dataset_files,
    read_dataset,
    read_piece,
)

__all__ = [
    "DASK_ROWS",
    "ENGINES",
    "PARTITION_ROWS",
    "Dataset",
    "Engine",
    "EngineError",
    "Piece",
    "activate",
    "choose_engine",
    "cluster",
    "dask_threshold",
    "dataset_files",
    "parse_memory_limit",
    "read_dataset",
    "read_piece",
]
