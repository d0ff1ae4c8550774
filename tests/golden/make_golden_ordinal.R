# Golden reference values for surveytool's ordinal psychometrics (analysis/stats/polychoric.py).
#
# Run once, from the repository root, and commit the files it writes (tests/golden/ordinal/):
#
#     Rscript tests/golden/make_golden_ordinal.R
#
# Needs R with lavaan, psych and psychTools; on Debian: apt-get install r-base-core r-cran-lavaan
# r-cran-psych r-cran-psychtools. CI never runs this script: tests/analysis/stats/test_polychoric.py
# reads what it writes. Numbers are printed with 17 significant digits (round-trip exact); NA as NA.
#
# Data:
#   a. psychTools::bfi items (tests/golden/bfi_items.csv, 2800 x 25, 1..6, 508 missing cells),
#      raw and keyed on the declared range (x' = 7 - x for the reverse-keyed items);
#   b. simulated ordinal items (sim_ordinal.csv, written here): 1500 rows, 8 items with 3 to 5
#      categories from a two-factor normal model cut at uneven thresholds, 8% of cells missing
#      at random and 60 rows missing half their items;
#   c. binary items with empty cells in their 2x2 tables (binary_zero.csv, written here).

suppressPackageStartupMessages({
  library(lavaan)
  library(psych)
  library(psychTools)
})

golden <- file.path("tests", "golden")
out_dir <- file.path(golden, "ordinal")
if (!dir.exists(golden)) stop("run from the repository root")
dir.create(out_dir, showWarnings = FALSE)

num <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
write_matrix <- function(m, name) {
  out <- data.frame(item = rownames(m), stringsAsFactors = FALSE)
  for (j in seq_len(ncol(m))) out[[colnames(m)[j]]] <- num(m[, j])
  write.csv(out, file.path(out_dir, name), row.names = FALSE, quote = FALSE)
}
lav_thresholds <- function(x) {
  th <- lavCor(x, ordered = names(x), missing = "pairwise", output = "th")
  items <- sub("\\|t[0-9]+$", "", names(th))
  k <- max(as.integer(sub("^.*\\|t", "", names(th))))
  m <- matrix(NA_real_, ncol(x), k, dimnames = list(names(x), paste0("t", seq_len(k))))
  for (i in seq_along(th)) {
    m[items[i], as.integer(sub("^.*\\|t", "", names(th)[i]))] <- th[i]
  }
  m
}

# a. bfi --------------------------------------------------------------------------------------
bfi_items <- read.csv(file.path(golden, "bfi_items.csv"))
x <- bfi_items[, 2:26]
stopifnot(sum(is.na(x)) == 508)
# lavaan::lavCor(x, ordered = names(x), missing = "pairwise")
write_matrix(lavCor(x, ordered = names(x), missing = "pairwise"), "bfi_lavcor_rho.csv")
write_matrix(lav_thresholds(x), "bfi_lavcor_th.csv")
# psych::polychoric(x, correct = 0)
pc <- polychoric(x, correct = 0)
write_matrix(pc$rho, "bfi_psych_rho.csv")
write_matrix(pc$tau, "bfi_psych_tau.csv")

# keyed on the declared range, per psychTools::bfi.keys; ordinal alpha per scale from the lavaan
# polychoric matrix: psych::alpha(rho)$total$raw_alpha (the standardized alpha of rho)
keys <- list(agree = c("-A1", "A2", "A3", "A4", "A5"),
             conscientious = c("C1", "C2", "C3", "-C4", "-C5"),
             extraversion = c("-E1", "-E2", "E3", "E4", "E5"),
             neuroticism = c("N1", "N2", "N3", "N4", "N5"),
             openness = c("O1", "-O2", "O3", "O4", "-O5"))
keyed <- x
for (scale in names(keys)) for (k in keys[[scale]]) if (startsWith(k, "-")) {
  item <- substring(k, 2)
  keyed[[item]] <- 7 - x[[item]]
}
write_matrix(lavCor(keyed, ordered = names(keyed), missing = "pairwise"), "bfi_keyed_lavcor_rho.csv")
rows <- list()
for (scale in names(keys)) {
  items <- sub("^-", "", keys[[scale]])
  rho <- lavCor(keyed[, items], ordered = items, missing = "pairwise")
  a <- psych::alpha(rho, warnings = FALSE)$total$raw_alpha
  rows[[scale]] <- data.frame(scale = scale, ordinal_alpha = num(a))
}
write.csv(do.call(rbind, rows), file.path(out_dir, "bfi_ordinal_alpha.csv"), row.names = FALSE,
          quote = FALSE)
# ordinal omega of the whole inventory (Schmid-Leiman on the keyed polychoric matrix):
# psych::omega(rho, nfactors = 5, fm = "minres")
rho_all <- lavCor(keyed, ordered = names(keyed), missing = "pairwise")
om <- psych::omega(rho_all, nfactors = 5, fm = "minres", plot = FALSE)
write.csv(data.frame(omega_h = num(om$omega_h), omega_total = num(om$omega.tot),
                     alpha = num(om$alpha)),
          file.path(out_dir, "bfi_ordinal_omega.csv"), row.names = FALSE, quote = FALSE)

# b. simulated ordinal items with missingness -------------------------------------------------
set.seed(20261202)
n <- 1500
f <- MASS::mvrnorm(n, c(0, 0), matrix(c(1, 0.4, 0.4, 1), 2))
lam <- c(0.8, 0.7, 0.6, 0.5, 0.75, 0.65, 0.55, 0.45)
fac <- c(1, 1, 1, 1, 2, 2, 2, 2)
cuts <- list(c(-1.2, 0, 1), c(-0.5, 0.6), c(-1.5, -0.7, 0.2, 1.1), c(0.3, 1.2),
             c(-1, -0.2, 0.5, 1.3), c(-0.8, 0.8), c(-1.1, 0.1, 0.9), c(-2, -1, 0, 1))
sim <- data.frame(row.names = seq_len(n))
for (j in 1:8) {
  z <- lam[j] * f[, fac[j]] + sqrt(1 - lam[j]^2) * rnorm(n)
  sim[[paste0("Q", j)]] <- findInterval(z, cuts[[j]]) + 1
}
miss <- matrix(runif(n * 8) < 0.08, n, 8)
half <- sample(n, 60)
for (i in half) miss[i, sample(8, 4)] <- TRUE
sim[miss] <- NA
write.csv(cbind(id = seq_len(n), sim), file.path(out_dir, "sim_ordinal.csv"), row.names = FALSE,
          na = "", quote = FALSE)
write_matrix(lavCor(sim, ordered = names(sim), missing = "pairwise"), "sim_lavcor_rho.csv")
write_matrix(lav_thresholds(sim), "sim_lavcor_th.csv")
pc <- polychoric(sim, correct = 0)
write_matrix(pc$rho, "sim_psych_rho.csv")

# c. binary items with empty cells -------------------------------------------------------------
# B1 x B2: one empty cell (lavaan adds 0.5, keeping the margins); B1 x B3: two empty cells (rho 1);
# B2 x B4: odds ratio 1 (rho 0); B3 x B4: both thresholds 0 (closed form); the rest by ML.
b <- data.frame(
  B1 = c(rep(1, 30), rep(2, 70)),
  B2 = c(rep(1, 10), rep(2, 20), rep(1, 0), rep(2, 70)),
  B3 = c(rep(1, 30), rep(2, 70)),
  B4 = c(rep(c(1, 2), 15), rep(c(1, 2), 35))
)
b$B2[31:40] <- 1 # B1=2 rows: 10 answer 1, 60 answer 2; B1=1 rows: 10 answer 1, 20 answer 2
b$B4[1:50] <- rep(c(1, 1, 2, 2), length.out = 50)
b$B5 <- c(rep(1, 50), rep(2, 50))
b$B6 <- c(rep(1, 25), rep(2, 50), rep(1, 25))
write.csv(cbind(id = seq_len(nrow(b)), b), file.path(out_dir, "binary_zero.csv"),
          row.names = FALSE, quote = FALSE)
write_matrix(lavCor(b, ordered = names(b)), "binary_lavcor_rho.csv")

# d. ordinal CFA (WLSMV) ------------------------------------------------------------------------
# lavaan::cfa(model, data, ordered = names(data), estimator = "WLSMV") on the complete rows
wlsmv <- function(data, model, name) {
  fit <- cfa(model, data = data, ordered = names(data), estimator = "WLSMV")
  pe <- parameterEstimates(fit)
  pe <- pe[pe$op %in% c("=~", "~~", "|") & !(pe$op == "~~" & pe$lhs %in% names(data)), ]
  out <- data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = num(pe$est), se = num(pe$se))
  write.csv(out, file.path(out_dir, paste0(name, "_wlsmv_parameters.csv")), row.names = FALSE,
            quote = FALSE)
  keys <- c("chisq", "df", "pvalue", "chisq.scaled", "pvalue.scaled", "chisq.scaling.factor",
            "baseline.chisq", "baseline.chisq.scaled", "cfi", "tli", "rmsea", "cfi.scaled",
            "tli.scaled", "rmsea.scaled", "cfi.robust", "tli.robust", "rmsea.robust", "srmr")
  fm <- fitMeasures(fit, keys)
  shift <- fit@test[[2]]$shift.parameter
  write.csv(data.frame(measure = c(keys, "chisq.shift", "ntotal"),
                       value = num(c(unname(fm), shift, lavInspect(fit, "ntotal")))),
            file.path(out_dir, paste0(name, "_wlsmv_fit.csv")), row.names = FALSE, quote = FALSE)
}
ten <- na.omit(x[, c("A1", "A2", "A3", "A4", "A5", "C1", "C2", "C3", "C4", "C5")])
wlsmv(ten, "agree =~ A1 + A2 + A3 + A4 + A5\n consc =~ C1 + C2 + C3 + C4 + C5", "bfi")
wlsmv(na.omit(sim), "f1 =~ Q1 + Q2 + Q3 + Q4\n f2 =~ Q5 + Q6 + Q7 + Q8", "sim")

writeLines(c(
  paste("R", R.version$major, R.version$minor),
  paste("lavaan", as.character(packageVersion("lavaan"))),
  paste("psych", as.character(packageVersion("psych"))),
  paste("psychTools", as.character(packageVersion("psychTools")))
), file.path(out_dir, "VERSIONS"))
