# Golden reference values for measurement invariance (analysis/stats/invariance.py), made by lavaan.
#
# Run once, from the repository root, and commit what it writes (tests/golden/invariance/):
#
#     Rscript tests/golden/make_golden_invariance.R
#
# Needs R with lavaan (Debian: apt-get install r-base-core r-cran-lavaan). CI never runs it:
# tests/analysis/stats/test_invariance.py reads the files. Numbers with 17 significant digits.
#
# Data:
#   a. lavaan::HolzingerSwineford1939, x1..x9 by school (Pasteur, Grant-White), the classic
#      three-factor model (hs_school.csv);
#   b. simulated: 2 groups x 600, two factors of four 5-point-like continuous items, item V3's
#      intercept shifted by 0.6 in group "b" and V7's loading lowered in group "b" (planted
#      non-invariance), sim_groups.csv.

suppressPackageStartupMessages(library(lavaan))
out_dir <- file.path("tests", "golden", "invariance")
if (!dir.exists(file.path("tests", "golden"))) stop("run from the repository root")
dir.create(out_dir, showWarnings = FALSE)
num <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

measures <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "npar")
sequence <- function(data, model, group, name, partial = "") {
  steps <- list(
    configural = "",
    metric = c("loadings"),
    scalar = c("loadings", "intercepts"),
    strict = c("loadings", "intercepts", "residuals")
  )
  fits <- list()
  rows <- list()
  for (step in names(steps)) {
    # lavaan::cfa(model, data, group = group, group.equal = steps[[step]])
    fit <- cfa(model, data = data, group = group, group.equal = steps[[step]],
               group.partial = partial)
    fits[[step]] <- fit
    fm <- fitMeasures(fit, measures)
    rows[[step]] <- data.frame(model = step, t(num(unname(fm))))
  }
  table <- do.call(rbind, rows)
  names(table) <- c("model", measures)
  write.csv(table, file.path(out_dir, paste0(name, "_fit.csv")), row.names = FALSE, quote = FALSE)
  # lavaan::lavTestLRT(configural, metric, scalar, strict)
  lrt <- lavTestLRT(fits$configural, fits$metric, fits$scalar, fits$strict)
  write.csv(data.frame(model = names(steps), chisq_diff = num(lrt[["Chisq diff"]]),
                       df_diff = num(lrt[["Df diff"]]), p = num(lrt[["Pr(>Chisq)"]])),
            file.path(out_dir, paste0(name, "_lrt.csv")), row.names = FALSE, quote = FALSE)
  pe <- parameterEstimates(fits$scalar)
  pe <- pe[pe$op %in% c("=~", "~1", "~~"), ]
  write.csv(data.frame(group = pe$group, lhs = pe$lhs, op = pe$op, rhs = pe$rhs,
                       est = num(pe$est)),
            file.path(out_dir, paste0(name, "_scalar_parameters.csv")), row.names = FALSE,
            quote = FALSE)
}

hs <- HolzingerSwineford1939[, c("school", paste0("x", 1:9))]
write.csv(hs, file.path(out_dir, "hs_school.csv"), row.names = FALSE, quote = FALSE)
hs_model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
sequence(hs, hs_model, "school", "hs")
# partial scalar invariance: x3's intercept free across schools
sequence(hs, hs_model, "school", "hs_partial", partial = c("x3 ~ 1"))

set.seed(20261202)
make_group <- function(n, label, shift3, lam7) {
  f <- MASS::mvrnorm(n, c(0, 0), matrix(c(1, 0.3, 0.3, 1), 2))
  lam <- c(0.8, 0.7, 0.6, 0.7, 0.8, 0.6, lam7, 0.5)
  fac <- c(1, 1, 1, 1, 2, 2, 2, 2)
  nu <- c(3, 3.2, 2.8 + shift3, 3.1, 2.9, 3, 3.3, 2.7)
  out <- data.frame(group = rep(label, n))
  for (j in 1:8) out[[paste0("V", j)]] <- nu[j] + lam[j] * f[, fac[j]] + sqrt(0.5) * rnorm(n)
  out
}
sim <- rbind(make_group(600, "a", 0, 0.7), make_group(600, "b", 0.6, 0.35))
write.csv(sim, file.path(out_dir, "sim_groups.csv"), row.names = FALSE, quote = FALSE)
sequence(sim, "f1 =~ V1 + V2 + V3 + V4\n f2 =~ V5 + V6 + V7 + V8", "group", "sim")

writeLines(c(paste("R", R.version$major, R.version$minor),
             paste("lavaan", as.character(packageVersion("lavaan")))),
           file.path(out_dir, "VERSIONS"))
