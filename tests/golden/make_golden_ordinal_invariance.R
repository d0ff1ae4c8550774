# Golden reference values for ordinal measurement invariance (analysis/stats/ordinal_invariance.py),
# made by lavaan's WLSMV.
#
# Run once, from the repository root, and commit what it writes (tests/golden/ordinal_invariance/):
#
#     Rscript tests/golden/make_golden_ordinal_invariance.R
#
# Needs R with lavaan and psychTools (Debian: apt-get install r-base-core r-cran-lavaan
# r-cran-psychtools). CI never runs it: tests/analysis/stats/test_ordinal_invariance.py reads the
# files. Numbers with 17 significant digits.
#
# Data:
#   a. psychTools::bfi, items A2..A5 (agreeableness) and C1..C3 (conscientiousness), 6 categories,
#      by gender (1 = male, 2 = female), complete rows (bfi_gender.csv);
#   b. simulated: 2 groups x 700, one factor of five 4-category items; group "b" has a factor
#      mean 0.3 higher and item y4's latent response shifted by 0.5 (a planted threshold
#      non-invariance), sim_ordinal_groups.csv; its partial scalar model frees y4's thresholds.

suppressPackageStartupMessages({library(lavaan); library(psychTools)})
out_dir <- file.path("tests", "golden", "ordinal_invariance")
if (!dir.exists(file.path("tests", "golden"))) stop("run from the repository root")
dir.create(out_dir, showWarnings = FALSE)
num <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

measures <- c("chisq", "df", "chisq.scaled", "chisq.scaling.factor", "baseline.chisq",
              "baseline.chisq.scaled", "baseline.df", "cfi", "tli", "rmsea", "cfi.scaled",
              "tli.scaled", "rmsea.scaled", "srmr", "npar")
sequence <- function(data, model, group, name, partial = "") {
  steps <- list(
    configural = list(eq = "none", pz = "delta"),
    metric = list(eq = c("loadings"), pz = "delta"),
    scalar = list(eq = c("loadings", "thresholds"), pz = "delta"),
    strict = list(eq = c("loadings", "thresholds", "residuals"), pz = "theta")
  )
  rows <- list()
  fits <- list()
  for (step in names(steps)) {
    # lavaan::cfa(model, data, ordered = TRUE, estimator = "WLSMV", group = group,
    #             group.equal = steps[[step]]$eq, parameterization = steps[[step]]$pz,
    #             group.partial = partial)
    fit <- cfa(model, data = data, ordered = TRUE, estimator = "WLSMV", group = group,
               group.equal = steps[[step]]$eq, parameterization = steps[[step]]$pz,
               group.partial = partial)
    fits[[step]] <- fit
    fm <- fitMeasures(fit, measures)
    rows[[step]] <- data.frame(model = step, t(num(unname(fm))))
    pe <- parameterEstimates(fit)
    pe <- pe[pe$op %in% c("=~", "|", "~~", "~1", "~*~") & (pe$se > 0 | pe$op == "~~"), ]
    write.csv(data.frame(group = pe$group, lhs = pe$lhs, op = pe$op, rhs = pe$rhs,
                         est = num(pe$est), se = num(pe$se)),
              file.path(out_dir, paste0(name, "_", step, "_parameters.csv")),
              row.names = FALSE, quote = FALSE)
  }
  table <- do.call(rbind, rows)
  names(table) <- c("model", gsub(".", "_", measures, fixed = TRUE))
  write.csv(table, file.path(out_dir, paste0(name, "_fit.csv")), row.names = FALSE, quote = FALSE)
  # lavaan::lavTestLRT(configural, metric, scalar, strict) (scaled.shifted: Satorra 2000)
  lrt <- lavTestLRT(fits$configural, fits$metric, fits$scalar, fits$strict)
  write.csv(data.frame(model = names(steps), chisq_diff = num(lrt[["Chisq diff"]]),
                       df_diff = num(lrt[["Df diff"]]), p = num(lrt[["Pr(>Chisq)"]])),
            file.path(out_dir, paste0(name, "_lrt.csv")), row.names = FALSE, quote = FALSE)
}

b <- psychTools::bfi[, c("gender", "A2", "A3", "A4", "A5", "C1", "C2", "C3")]
b <- b[complete.cases(b), ]
b$gender <- ifelse(b$gender == 1, "male", "female")
write.csv(b, file.path(out_dir, "bfi_gender.csv"), row.names = FALSE, quote = FALSE)
sequence(b, "agree =~ A2 + A3 + A4 + A5\n consc =~ C1 + C2 + C3", "gender", "bfi")

set.seed(20261202)
n <- 700
g <- rep(c("a", "b"), each = n)
f <- rnorm(2 * n) + ifelse(g == "b", 0.3, 0)
lam <- c(0.75, 0.65, 0.8, 0.6, 0.7)
cuts <- c(-Inf, -0.9, 0.1, 0.9, Inf)
sim <- data.frame(group = g)
for (j in 1:5) {
  y <- lam[j] * f + rnorm(2 * n, sd = sqrt(1 - lam[j]^2))
  if (j == 4) y <- y + ifelse(g == "b", 0.5, 0)
  sim[[paste0("y", j)]] <- as.integer(cut(y, cuts))
}
write.csv(sim, file.path(out_dir, "sim_ordinal_groups.csv"), row.names = FALSE, quote = FALSE)
one <- "F =~ y1 + y2 + y3 + y4 + y5"
sequence(sim, one, "group", "sim")
sequence(sim, one, "group", "sim_partial", partial = c("y4|t1", "y4|t2", "y4|t3"))

writeLines(c(paste("R", R.version$major, R.version$minor),
             paste("lavaan", as.character(packageVersion("lavaan")))),
           file.path(out_dir, "VERSIONS"))
