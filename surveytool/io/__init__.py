"""Files in and out: one reader of every source format, one table writer, safe file writers.

- :mod:`surveytool.io.sources`: :func:`read_source` for CSV/TSV, XLSX, SPSS, Parquet, JSON lines,
  Qualtrics and REDCap exports (the format detected and said);
- :mod:`surveytool.io.tables`: :func:`write_table` with metadata, :func:`read_metadata`;
- :mod:`surveytool.io.files`: atomic file and folder writers, secret files (0600);
- :mod:`surveytool.io.keys`: key files (HMAC keys), one format.

Import from the modules: this package imports nothing, so writing a file never loads pandas.
"""
