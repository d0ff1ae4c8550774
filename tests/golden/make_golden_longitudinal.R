# Golden reference values for longitudinal measurement invariance
# (analysis/stats/longitudinal.py), made by lavaan.
#
# Run once, from the repository root, and commit what it writes (tests/golden/longitudinal/):
#
#     Rscript tests/golden/make_golden_longitudinal.R
#
# Needs R with lavaan (Debian: apt-get install r-base-core r-cran-lavaan). CI never runs it:
# tests/analysis/stats/test_longitudinal.py reads the files. Numbers with 17 significant digits.
#
# Data (simulated, set.seed(20261202)): 800 people answer four items of one factor at three waves
# (long form: id, wave, y1..y4, 5-point-like continuous answers). The factor's mean rises by 0.3
# per wave, the waves' factors correlate .6/.5, each item's residuals correlate .3 across waves;
# item y3's intercept drifts by +0.5 at wave 3 (planted non-invariance). The partial scalar and
# strict models free y3's intercept at every wave (as lavaan's group.partial does across groups).

suppressPackageStartupMessages(library(lavaan))
out_dir <- file.path("tests", "golden", "longitudinal")
if (!dir.exists(file.path("tests", "golden"))) stop("run from the repository root")
dir.create(out_dir, showWarnings = FALSE)
num <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

set.seed(20261202)
n <- 800
waves <- 1:3
phi <- matrix(c(1, .6, .5, .6, 1, .6, .5, .6, 1), 3)
f <- MASS::mvrnorm(n, c(0, .3, .6), phi)
lam <- c(1, .8, .9, .7)
nu <- c(3, 3.1, 2.9, 3.2)
long <- list()
e_cor <- matrix(.3, 3, 3); diag(e_cor) <- 1
for (j in 1:4) assign(paste0("e", j), MASS::mvrnorm(n, rep(0, 3), 0.5 * e_cor))
for (t in waves) {
  d <- data.frame(id = sprintf("p%03d", 1:n), wave = paste0("w", t))
  for (j in 1:4) {
    shift <- if (j == 3 && t == 3) 0.5 else 0
    d[[paste0("y", j)]] <- nu[j] + shift + lam[j] * f[, t] + get(paste0("e", j))[, t]
  }
  long[[t]] <- d
}
long <- do.call(rbind, long)
write.csv(long, file.path(out_dir, "waves_long.csv"), row.names = FALSE, quote = FALSE)
wide <- reshape(long, idvar = "id", timevar = "wave", direction = "wide", sep = "_")

# The models, written out with labels (lavaan's way for longitudinal invariance): a factor per
# wave, the first item its marker, each item's residuals correlated across waves, the factors
# correlated; equal labels across waves for what is held equal.
syntax <- function(loadings, intercepts, residuals, means_free, partial_y3 = FALSE) {
  lines <- character(0)
  for (t in waves) {
    w <- paste0("w", t)
    lab <- function(j, kind) if (kind) paste0("l", j, "*") else paste0("l", j, "_", t, "*")
    lines <- c(lines, paste0("F", t, " =~ 1*y1_", w, " + ", lab(2, loadings), "y2_", w, " + ",
                             lab(3, loadings), "y3_", w, " + ", lab(4, loadings), "y4_", w))
    for (j in 1:4) {
      same <- intercepts && !(partial_y3 && j == 3)
      il <- if (same) paste0("i", j) else paste0("i", j, "_", t)
      rl <- if (residuals) paste0("r", j) else paste0("r", j, "_", t)
      lines <- c(lines, paste0("y", j, "_", w, " ~ ", il, "*1"),
                 paste0("y", j, "_", w, " ~~ ", rl, "*y", j, "_", w))
    }
    lines <- c(lines, if (means_free && t > 1) paste0("F", t, " ~ 1") else paste0("F", t, " ~ 0*1"))
  }
  for (j in 1:4) for (t in 1:2) for (s in (t + 1):3)
    lines <- c(lines, paste0("y", j, "_w", t, " ~~ y", j, "_w", s))
  paste(lines, collapse = "\n")
}
steps <- list(
  configural = syntax(FALSE, FALSE, FALSE, FALSE),
  metric = syntax(TRUE, FALSE, FALSE, FALSE),
  scalar = syntax(TRUE, TRUE, FALSE, TRUE),
  strict = syntax(TRUE, TRUE, TRUE, TRUE)
)
partial_steps <- steps
partial_steps$scalar <- syntax(TRUE, TRUE, FALSE, TRUE, partial_y3 = TRUE)
partial_steps$strict <- syntax(TRUE, TRUE, TRUE, TRUE, partial_y3 = TRUE)
measures <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "npar")
run <- function(steps, name) {
  fits <- list(); rows <- list()
  for (step in names(steps)) {
    # lavaan::lavaan(steps[[step]], data = wide, auto.var = TRUE, auto.cov.lv.x = TRUE,
    #                int.ov.free = FALSE, meanstructure = TRUE) -- i.e. cfa() with the labels above
    fit <- cfa(steps[[step]], data = wide, meanstructure = TRUE)
    fits[[step]] <- fit
    rows[[step]] <- data.frame(model = step, t(num(unname(fitMeasures(fit, measures)))))
  }
  table <- do.call(rbind, rows); names(table) <- c("model", measures)
  write.csv(table, file.path(out_dir, paste0(name, "_fit.csv")), row.names = FALSE, quote = FALSE)
  lrt <- lavTestLRT(fits$configural, fits$metric, fits$scalar, fits$strict)
  write.csv(data.frame(model = names(steps), chisq_diff = num(lrt[["Chisq diff"]]),
                       df_diff = num(lrt[["Df diff"]]), p = num(lrt[["Pr(>Chisq)"]])),
            file.path(out_dir, paste0(name, "_lrt.csv")), row.names = FALSE, quote = FALSE)
  pe <- parameterEstimates(fits$scalar)
  pe <- pe[pe$op %in% c("=~", "~1", "~~") & pe$se > 0, ]
  write.csv(data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = num(pe$est)),
            file.path(out_dir, paste0(name, "_scalar_parameters.csv")), row.names = FALSE,
            quote = FALSE)
}
run(steps, "waves")
run(partial_steps, "waves_partial")
writeLines(c(paste("R", R.version$major, R.version$minor),
             paste("lavaan", as.character(packageVersion("lavaan")))),
           file.path(out_dir, "VERSIONS"))
