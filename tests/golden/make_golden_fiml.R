# Golden reference values for CFA by full-information ML (analysis/stats/fiml.py), made by lavaan.
#
#     Rscript tests/golden/make_golden_fiml.R     (from the repository root; r-cran-lavaan)
#
# CI never runs it: tests/analysis/stats/test_fiml.py reads tests/golden/fiml/. Data:
# lavaan::HolzingerSwineford1939 x1..x9 with planted missingness (set.seed(20261202)): 12% of the
# cells missing at random and 20 rows missing x4..x6 (hs_missing.csv).
suppressPackageStartupMessages(library(lavaan))
out_dir <- file.path("tests", "golden", "fiml")
dir.create(out_dir, showWarnings = FALSE)
num <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
set.seed(20261202)
x <- HolzingerSwineford1939[, paste0("x", 1:9)]
x[matrix(runif(nrow(x) * 9) < 0.12, nrow(x), 9)] <- NA
x[sample(nrow(x), 20), c("x4", "x5", "x6")] <- NA
write.csv(x, file.path(out_dir, "hs_missing.csv"), row.names = FALSE, na = "", quote = FALSE)
model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
# lavaan::cfa(model, data = x, missing = "ml")
fit <- cfa(model, data = x, missing = "ml")
keys <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "npar", "baseline.chisq",
          "baseline.df", "ntotal")
write.csv(data.frame(measure = keys, value = num(unname(fitMeasures(fit, keys)))),
          file.path(out_dir, "hs_fiml_fit.csv"), row.names = FALSE, quote = FALSE)
pe <- parameterEstimates(fit)
write.csv(data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = num(pe$est)),
          file.path(out_dir, "hs_fiml_parameters.csv"), row.names = FALSE, quote = FALSE)
writeLines(c(paste("R", R.version$major, R.version$minor),
             paste("lavaan", as.character(packageVersion("lavaan")))),
           file.path(out_dir, "VERSIONS"))
