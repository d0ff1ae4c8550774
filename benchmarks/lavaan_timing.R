# lavaan timings quoted in benchmarks/bench_ordinal.py (run by hand once; CI has no R).
# Data: python -c "from benchmarks.bench_ordinal import _data; f, fac, _ = _data(100_000); ..."
# wrote /tmp/rbench/ppai100k.csv (site + the 58 items in subscale order) and factors.json
# (subscale -> items); then: Rscript benchmarks/lavaan_timing.R
suppressPackageStartupMessages({library(lavaan); library(jsonlite)})
x <- read.csv("/tmp/rbench/ppai100k.csv")
f <- fromJSON("/tmp/rbench/factors.json")
items <- setdiff(names(x), "site")
model <- paste(sprintf("%s =~ %s", names(f), sapply(f, paste, collapse = " + ")), collapse = "\n")
t <- system.time(r <- lavCor(x[, items], ordered = items))[["elapsed"]]
cat("lavCor", t, "\n")
t <- system.time(fit <- cfa(model, data = x[, items], ordered = items, estimator = "WLSMV"))[["elapsed"]]
cat("cfa_wlsmv", t, "\n")
t <- system.time(for (eq in list("", "loadings", c("loadings", "intercepts"))) cfa(model, data = x, group = "site", group.equal = eq))[["elapsed"]]
cat("invariance3", t, "\n")
cat(R.version.string, as.character(packageVersion("lavaan")), "\n")
