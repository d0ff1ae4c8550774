# Golden reference values for surveytool's psychometrics (the `analysis` package), made by R.
#
# Run once, from the repository root, and commit the files it writes:
#
#     Rscript tests/golden/make_golden_analysis.R
#
# Needs R with psych, psychTools, GPArotation, lavaan and effectsize; on Debian/Ubuntu:
#
#     apt-get install r-base-core r-cran-psych r-cran-psychtools r-cran-gparotation \
#         r-cran-lavaan r-cran-effectsize
#
# CI never runs this script: tests/test_reliability.py, tests/test_items_careless.py,
# tests/test_groups.py, tests/test_factor.py and tests/test_analysis_norms.py read what it writes
# (all in tests/golden/analysis/). Every number is printed with 17 significant digits
# (sprintf("%.17g")), which round-trips a double exactly; NA is written as NA.
#
# Data:
#   a. psychTools::bfi, 2800 x 25 items (the same rows as tests/golden/bfi_items.csv, which
#      make_golden.R wrote; checked below), instrument tests/golden/bfi.yaml;
#   b. lavaan::HolzingerSwineford1939 (x1..x9), written to holzinger_swineford.csv;
#   c. a simulated 7-point instrument (3 subscales, 5 reverse-keyed items, planted missingness,
#      straight-liners and random responders, two group columns), written to sim_items.csv with
#      its instrument file sim.yaml.
# Reverse keying is done here on the *declared* range of the items (x' = min + max - x), as
# surveytool does; psych::alpha(keys = ...) would reverse on the observed range of all items, which
# is the same for bfi (1..6 observed) but is not the convention (FORMULAS.md).

suppressPackageStartupMessages({
  library(psych)
  library(psychTools)
  library(GPArotation)
  library(lavaan)
  library(effectsize)
})

golden <- file.path("tests", "golden")
out_dir <- file.path(golden, "analysis")
if (!dir.exists(golden)) {
  stop("run from the repository root: Rscript tests/golden/make_golden_analysis.R")
}
dir.create(out_dir, showWarnings = FALSE)

fmt17 <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

# A data frame of numbers (and text) to CSV, numbers with 17 significant digits.
write_golden <- function(frame, name, row_names = NULL) {
  frame <- as.data.frame(frame, stringsAsFactors = FALSE)
  if (!is.null(row_names)) {
    frame <- cbind(data.frame(id = row_names, stringsAsFactors = FALSE), frame)
  }
  for (col in colnames(frame)) {
    if (is.numeric(frame[[col]])) frame[[col]] <- fmt17(frame[[col]])
  }
  write.csv(frame, file.path(out_dir, name), row.names = FALSE, quote = TRUE)
}

# Named scalars to a two-column CSV (quantity, value).
write_scalars <- function(values, name) {
  write_golden(data.frame(quantity = names(values), value = unname(unlist(values)),
                          stringsAsFactors = FALSE), name)
}

reverse_declared <- function(x, reversed, low, high) {
  x[, reversed] <- (low + high) - x[, reversed]
  x
}

# ---- helpers that produce the same table for any scale -----------------------------------------

# psych::alpha on already reversed items, pairwise (psych's default use = "pairwise").
alpha_tables <- function(keyed, scales, prefix, listwise = FALSE) {
  scale_rows <- list()
  item_rows <- list()
  for (s in names(scales)) {
    x <- keyed[, scales[[s]], drop = FALSE]
    if (listwise) x <- na.omit(x)
    a <- psych::alpha(x, warnings = FALSE)
    # one-factor omega total from the same pairwise correlation matrix alpha uses (cov2cor(C))
    R <- cov2cor(cov(x, use = "pairwise"))
    f1 <- psych::fa(R, nfactors = 1, fm = "minres", n.obs = nrow(x), warnings = FALSE)
    lam <- as.vector(f1$loadings)
    omega_total <- sum(lam)^2 / (sum(lam)^2 + sum(1 - lam^2))
    scale_rows[[s]] <- data.frame(
      subscale = s, n_rows = nrow(x),
      raw_alpha = a$total$raw_alpha, std_alpha = a$total$std.alpha,
      g6 = a$total[["G6(smc)"]], average_r = a$total$average_r,
      median_r = a$total$median_r, s_n = a$total[["S/N"]], ase = a$total$ase,
      alpha_ci_lower = a$feldt$lower.ci$raw_alpha, alpha_ci_upper = a$feldt$upper.ci$raw_alpha,
      mean = a$total$mean, sd = a$total$sd, omega_total = omega_total,
      stringsAsFactors = FALSE)
    st <- a$item.stats
    item_rows[[s]] <- data.frame(
      subscale = s, item = scales[[s]], n = st$n, mean = st$mean, sd = st$sd,
      raw_r = st$raw.r, std_r = st$std.r, r_cor = st$r.cor, r_drop = st$r.drop,
      alpha_if_deleted = a$alpha.drop$raw_alpha, stringsAsFactors = FALSE)
  }
  write_golden(do.call(rbind, scale_rows), paste0(prefix, "_scales.csv"))
  write_golden(do.call(rbind, item_rows), paste0(prefix, "_items.csv"))
  invisible(do.call(rbind, scale_rows))
}

# psych::describe (type 3 skew and kurtosis) and response frequencies of the raw answers.
item_tables <- function(raw, categories, prefix) {
  d <- psych::describe(raw, type = 3)
  freq <- sapply(categories, function(v) colSums(raw == v, na.rm = TRUE))
  colnames(freq) <- paste0("n_", categories)
  out <- data.frame(item = colnames(raw), n = d$n, missing = colSums(is.na(raw)),
                    mean = d$mean, sd = d$sd, median = d$median, min = d$min, max = d$max,
                    skew = d$skew, kurtosis = d$kurtosis, freq, stringsAsFactors = FALSE)
  write_golden(out, paste0(prefix, "_item_statistics.csv"))
}

# ================================================================================================
# a. bfi
# ================================================================================================
bfi <- psychTools::bfi
item_names <- colnames(bfi)[1:25]
raw_bfi <- bfi[, item_names]
check <- read.csv(file.path(golden, "bfi_items.csv"))
stopifnot(isTRUE(all.equal(as.matrix(check[, item_names]), as.matrix(raw_bfi),
                           check.attributes = FALSE)))
bfi_scales <- list(
  agree = c("A1", "A2", "A3", "A4", "A5"),
  conscientious = c("C1", "C2", "C3", "C4", "C5"),
  extraversion = c("E1", "E2", "E3", "E4", "E5"),
  neuroticism = c("N1", "N2", "N3", "N4", "N5"),
  openness = c("O1", "O2", "O3", "O4", "O5")
)
bfi_reversed <- c("A1", "C4", "C5", "E1", "E2", "O2", "O5") # psychTools::bfi.keys
keyed_bfi <- reverse_declared(raw_bfi, bfi_reversed, 1, 6)

# ---- reliability ------------------------------------------------------------------------------
# R: psych::alpha(keyed[, items]) per scale (use = "pairwise"), and on na.omit(keyed[, items])
alpha_tables(keyed_bfi, bfi_scales, "bfi_alpha")
alpha_tables(keyed_bfi, bfi_scales, "bfi_alpha_listwise", listwise = TRUE)
item_tables(raw_bfi, 1:6, "bfi")

# ---- omega (Schmid-Leiman) ------------------------------------------------------------------------
# R: psych::omega(keyed, nfactors = 5, fm = "minres", plot = FALSE)
om <- psych::omega(keyed_bfi, nfactors = 5, fm = "minres", plot = FALSE)
write_scalars(list(omega_h = om$omega_h, omega_total = om$omega.tot, alpha = om$alpha,
                   g6 = om$G6, nfactors = 5), "bfi_omega.csv")
sl <- unclass(om$schmid$sl)
write_golden(data.frame(g = sl[, 1], sl[, 2:6], h2 = sl[, "h2"], u2 = sl[, "u2"],
                        check.names = FALSE),
             "bfi_omega_sl.csv", row_names = item_names)
om3 <- psych::omega(keyed_bfi, nfactors = 3, fm = "minres", plot = FALSE)
write_scalars(list(omega_h = om3$omega_h, omega_total = om3$omega.tot, nfactors = 3),
              "bfi_omega3.csv")

# ---- exploratory factor analysis ---------------------------------------------------------------
write_fa <- function(f, name) {
  L <- unclass(f$loadings)
  write_golden(L, paste0(name, "_loadings.csv"), row_names = rownames(L))
  if (!is.null(f$Phi)) write_golden(f$Phi, paste0(name, "_phi.csv"), row_names = colnames(L))
  write_golden(data.frame(communality = f$communality, uniqueness = f$uniquenesses),
               paste0(name, "_communalities.csv"), row_names = rownames(L))
  write_golden(t(f$Vaccounted), paste0(name, "_variance.csv"), row_names = colnames(L))
}
# R: psych::fa(keyed, nfactors = 5, fm = "minres", rotate = "oblimin", normalize = TRUE)
#    (`normalize` is passed through to GPArotation::oblimin: Kaiser normalisation)
write_fa(psych::fa(keyed_bfi, nfactors = 5, fm = "minres", rotate = "oblimin", normalize = TRUE),
         "bfi_fa_minres_oblimin_kaiser")
# R: psych::fa(keyed, nfactors = 5, fm = "minres", rotate = "oblimin")   (psych's default: raw)
write_fa(psych::fa(keyed_bfi, nfactors = 5, fm = "minres", rotate = "oblimin"),
         "bfi_fa_minres_oblimin_raw")
# R: psych::fa(keyed, nfactors = 5, fm = "pa", rotate = "oblimin", normalize = TRUE)
write_fa(psych::fa(keyed_bfi, nfactors = 5, fm = "pa", rotate = "oblimin", normalize = TRUE),
         "bfi_fa_pa_oblimin_kaiser")
# R: psych::fa(keyed, nfactors = 5, fm = "minres", rotate = "none")
write_fa(psych::fa(keyed_bfi, nfactors = 5, fm = "minres", rotate = "none"),
         "bfi_fa_minres_none")

# R: psych::fa.parallel(keyed, fa = "both", n.iter = 20) (the observed eigenvalues are exact;
#    the simulated ones are random, so only the suggested numbers are compared)
options(mc.cores = 1) # fa.parallel uses parallel::mclapply; one core keeps set.seed reproducible
set.seed(20261124)
pa <- psych::fa.parallel(keyed_bfi, fa = "both", n.iter = 20, plot = FALSE)
write_golden(data.frame(pc_values = pa$pc.values, fa_values = pa$fa.values,
                        sim_pc_mean = pa$pc.sim, sim_fa_mean = pa$fa.sim),
             "bfi_parallel.csv")
write_scalars(list(nfact = pa$nfact, ncomp = pa$ncomp), "bfi_parallel_suggested.csv")

# R: psych::KMO(keyed); psych::cortest.bartlett(cor(keyed, use = "pairwise"), n = 2800)
kmo <- psych::KMO(keyed_bfi)
write_golden(data.frame(msa = kmo$MSAi), "bfi_kmo_items.csv", row_names = item_names)
bart <- psych::cortest.bartlett(cor(keyed_bfi, use = "pairwise"), n = nrow(keyed_bfi))
write_scalars(list(kmo = kmo$MSA, bartlett_chisq = bart$chisq, bartlett_df = bart$df,
                   bartlett_p = bart$p.value), "bfi_kmo_bartlett.csv")
# the pairwise correlation matrix itself: R: cor(keyed, use = "pairwise")
write_golden(cor(keyed_bfi, use = "pairwise"), "bfi_cor_pairwise.csv", row_names = item_names)

# ---- confirmatory factor analysis of the bfi's own structure ---------------------------------
cfa_tables <- function(model, data, prefix) {
  # R: lavaan::cfa(model, data)  (ML, listwise deletion, marker-variable identification)
  fit <- lavaan::cfa(model, data = data)
  fm <- lavaan::fitMeasures(fit, c("chisq", "df", "pvalue", "cfi", "tli", "rmsea",
                                   "rmsea.ci.lower", "rmsea.ci.upper", "srmr",
                                   "baseline.chisq", "baseline.df", "ntotal"))
  write_scalars(as.list(unclass(fm)), paste0(prefix, "_fit.csv"))
  std <- lavaan::standardizedSolution(fit)
  lo <- std[std$op == "=~", ]
  write_golden(data.frame(factor = lo$lhs, item = lo$rhs, est_std = lo$est.std,
                          stringsAsFactors = FALSE), paste0(prefix, "_loadings.csv"))
  fc <- std[std$op == "~~" & std$lhs != std$rhs & std$lhs %in% lo$lhs, ]
  write_golden(data.frame(lhs = fc$lhs, rhs = fc$rhs, est_std = fc$est.std,
                          stringsAsFactors = FALSE), paste0(prefix, "_factor_cor.csv"))
}
bfi_model <- paste(sapply(names(bfi_scales), function(s)
  paste(s, "=~", paste(bfi_scales[[s]], collapse = " + "))), collapse = "\n")
cfa_tables(bfi_model, keyed_bfi, "bfi_cfa")

# ================================================================================================
# b. Holzinger & Swineford (1939), lavaan's example
# ================================================================================================
hs <- lavaan::HolzingerSwineford1939[, paste0("x", 1:9)]
write.csv(hs, file.path(out_dir, "holzinger_swineford.csv"), row.names = FALSE)
hs_model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
cfa_tables(hs_model, hs, "hs_cfa")
# a model that fits worse (one factor), to test the indices away from a good fit
cfa_tables("g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9", hs, "hs_cfa_one")

# ================================================================================================
# c. a simulated instrument with planted missingness, reverse keys and careless responders
# ================================================================================================
set.seed(20261125)
n <- 900
sim_scales <- list(calm = paste0("C", 1:5), drive = paste0("D", 1:6), ease = paste0("E", 1:4))
sim_reversed <- c("C2", "C5", "D3", "D6", "E4")
site <- sample(c("north", "south", "west"), n, replace = TRUE, prob = c(0.45, 0.35, 0.2))
sex <- sample(c("f", "m"), n, replace = TRUE)
trait_cor <- matrix(c(1, 0.4, 0.3, 0.4, 1, 0.2, 0.3, 0.2, 1), 3)
theta <- matrix(rnorm(n * 3), n) %*% chol(trait_cor)
theta[, 1] <- theta[, 1] + ifelse(site == "south", 0.3, 0) + ifelse(site == "west", -0.2, 0)
theta[, 2] <- theta[, 2] + ifelse(sex == "m", 0.35, 0)
theta[, 3] <- theta[, 3] + ifelse(site == "west", 0.25, 0)
items <- unlist(sim_scales)
raw_sim <- matrix(NA_integer_, n, length(items), dimnames = list(NULL, items))
cuts <- c(-Inf, -1.6, -0.9, -0.3, 0.3, 0.9, 1.6, Inf)
for (s in seq_along(sim_scales)) {
  for (it in sim_scales[[s]]) {
    a <- runif(1, 0.8, 1.6)
    sgn <- if (it %in% sim_reversed) -1 else 1
    latent <- a * sgn * theta[, s] + rnorm(n) + rnorm(1, 0, 0.3)
    raw_sim[, it] <- as.integer(cut(latent / sqrt(1 + a^2), cuts))
  }
}
# careless responders: 12 straight-liners (same answer everywhere), 12 uniform random
careless_rows <- sample(n, 24)
for (r in careless_rows[1:12]) raw_sim[r, ] <- sample(1:7, 1)
for (r in careless_rows[13:24]) raw_sim[r, ] <- sample(1:7, length(items), replace = TRUE)
# planted missingness: 6% of cells, 15 respondents without one subscale, 4 without any answer
raw_sim[sample(length(raw_sim), round(0.06 * length(raw_sim)))] <- NA
others <- setdiff(seq_len(n), careless_rows)
blank <- sample(others, 15)
for (i in seq_along(blank)) raw_sim[blank[i], sim_scales[[(i - 1) %% 3 + 1]]] <- NA
empty <- sample(setdiff(others, blank), 4)
raw_sim[empty, ] <- NA
ids <- sprintf("S%04d", seq_len(n))
sim_frame <- data.frame(id = ids, raw_sim, site = site, sex = sex, stringsAsFactors = FALSE)
write.csv(sim_frame, file.path(out_dir, "sim_items.csv"), row.names = FALSE, na = "")
write_golden(data.frame(id = ids[careless_rows],
                        kind = rep(c("straightline", "random"), each = 12)),
             "sim_careless_rows.csv")

# its instrument file
yaml_lines <- c(
  "# A simulated 7-point instrument for the R golden tests of the analysis package.",
  "# Written by tests/golden/make_golden_analysis.R; do not edit by hand.",
  "id: sim7", "version: 1.0.0", "title: Simulated three-scale inventory (golden tests)",
  "response_scales:", "  agree7:", "    min: 1", "    max: 7", "items:")
for (it in items) {
  yaml_lines <- c(yaml_lines, sprintf("  - {id: %s, text: Item %s., scale: agree7%s}", it, it,
                                      if (it %in% sim_reversed) ", reverse: true" else ""))
}
yaml_lines <- c(yaml_lines, "subscales:")
for (s in names(sim_scales)) {
  yaml_lines <- c(yaml_lines, sprintf("  - id: %s", s), sprintf("    label: %s", s),
                  sprintf("    items: [%s]", paste(sim_scales[[s]], collapse = ", ")),
                  "    method: mean", "    min_answered: 1")
}
yaml_lines <- c(yaml_lines, "composites:", "  - id: total", "    label: total",
                "    components: [calm, drive, ease]", "    method: mean",
                "    min_answered: 1")
writeLines(yaml_lines, file.path(out_dir, "sim.yaml"))

raw_sim <- as.data.frame(raw_sim)
keyed_sim <- reverse_declared(raw_sim, sim_reversed, 1, 7)

# ---- reliability and item statistics --------------------------------------------------------------
sim_alpha <- alpha_tables(keyed_sim, sim_scales, "sim_alpha")
alpha_tables(keyed_sim, sim_scales, "sim_alpha_listwise", listwise = TRUE)
item_tables(raw_sim, 1:7, "sim")

# ---- scores: descriptives, intercorrelations, disattenuated -----------------------------------
# R: psych::scoreItems(keys, raw, impute = "none", min = 1, max = 7)$scores (= rowMeans of keyed)
sim_scores <- sapply(sim_scales, function(cols) rowMeans(keyed_sim[, cols], na.rm = TRUE))
sim_scores[is.nan(sim_scores)] <- NA
# R: psych::describe(scores, type = 3)
d <- psych::describe(sim_scores, type = 3)
write_golden(data.frame(n = d$n, mean = d$mean, sd = d$sd, median = d$median, min = d$min,
                        max = d$max, skew = d$skew, kurtosis = d$kurtosis, se = d$se),
             "sim_score_describe.csv", row_names = colnames(sim_scores))
# R: psych::corr.test(scores, adjust = "holm")  (pairwise n; Fisher-z CI; Holm over the pairs)
ct <- psych::corr.test(sim_scores, adjust = "holm")
pairs <- t(combn(colnames(sim_scores), 2))
alpha_of <- setNames(sim_alpha$raw_alpha, sim_alpha$subscale)
write_golden(data.frame(
  scale_x = pairs[, 1], scale_y = pairs[, 2],
  r = ct$r[pairs], n = ct$n[pairs],
  # corr.test: unadjusted p below the diagonal, Holm-adjusted above it
  p = ct$p[pairs[, 2:1, drop = FALSE]], p_holm = ct$p[pairs],
  ci_lower = ct$ci$lower, ci_upper = ct$ci$upper,
  # disattenuated: r / sqrt(alpha_x * alpha_y)  (psych::correct.cor's formula)
  disattenuated = ct$r[pairs] / sqrt(alpha_of[pairs[, 1]] * alpha_of[pairs[, 2]]),
  stringsAsFactors = FALSE), "sim_score_correlations.csv")

# ---- group comparisons ----------------------------------------------------------------------------
two <- list()
many <- list()
for (s in names(sim_scales)) {
  y <- sim_scores[, s]
  ok <- !is.na(y)
  # two groups: sex (f, m); differences are f - m
  tt <- t.test(y[ok] ~ sex[ok], var.equal = FALSE)           # Welch
  st <- t.test(y[ok] ~ sex[ok], var.equal = TRUE)            # Student
  wt <- wilcox.test(y[ok] ~ sex[ok], exact = FALSE, correct = TRUE)
  g <- effectsize::hedges_g(y[ok] ~ sex[ok], ci = 0.95)
  rb <- effectsize::rank_biserial(y[ok] ~ sex[ok], ci = 0.95)
  two[[s]] <- data.frame(
    scale = s, n_f = sum(ok & sex == "f"), n_m = sum(ok & sex == "m"),
    welch_t = unname(tt$statistic), welch_df = unname(tt$parameter), welch_p = tt$p.value,
    student_t = unname(st$statistic), student_df = unname(st$parameter),
    student_p = st$p.value,
    mw_u = unname(wt$statistic), mw_p = wt$p.value,
    hedges_g = g$Hedges_g, g_ci_lower = g$CI_low, g_ci_upper = g$CI_high,
    rank_biserial = rb$r_rank_biserial, stringsAsFactors = FALSE)
  # three groups: site
  f <- factor(site[ok])
  av <- oneway.test(y[ok] ~ f, var.equal = TRUE)
  wa <- oneway.test(y[ok] ~ f, var.equal = FALSE)
  kw <- kruskal.test(y[ok] ~ f)
  fit <- aov(y[ok] ~ f)
  many[[s]] <- data.frame(
    scale = s, n = sum(ok),
    anova_f = unname(av$statistic), anova_df1 = unname(av$parameter[1]),
    anova_df2 = unname(av$parameter[2]), anova_p = av$p.value,
    welch_f = unname(wa$statistic), welch_df1 = unname(wa$parameter[1]),
    welch_df2 = unname(wa$parameter[2]), welch_p = wa$p.value,
    kw_h = unname(kw$statistic), kw_df = unname(kw$parameter), kw_p = kw$p.value,
    eta2 = effectsize::eta_squared(fit, partial = FALSE, ci = NULL)$Eta2,
    omega2 = effectsize::omega_squared(fit, partial = FALSE, ci = NULL)$Omega2,
    epsilon2 = effectsize::rank_epsilon_squared(y[ok] ~ f, ci = NULL)$rank_epsilon_squared,
    stringsAsFactors = FALSE)
}
two <- do.call(rbind, two)
many <- do.call(rbind, many)
# Holm across the three subscales, per test: R: p.adjust(p, method = "holm")
two$welch_p_holm <- p.adjust(two$welch_p, "holm")
two$mw_p_holm <- p.adjust(two$mw_p, "holm")
many$anova_p_holm <- p.adjust(many$anova_p, "holm")
many$welch_p_holm <- p.adjust(many$welch_p, "holm")
many$kw_p_holm <- p.adjust(many$kw_p, "holm")
write_golden(two, "sim_groups_two.csv")
write_golden(many, "sim_groups_many.csv")
group_desc <- aggregate(sim_scores, list(site = site), function(v) mean(v, na.rm = TRUE))
write_golden(group_desc, "sim_groups_site_means.csv")

# ---- careless responding (base R, the definitions of the careless package) ---------------------
# long-string: the longest run of identical consecutive answers in item order (missing breaks a run)
longstring <- apply(raw_sim, 1, function(v) {
  if (all(is.na(v))) return(NA)
  r <- rle(v)             # NA never equals anything, so each NA is its own run
  max(r$lengths[!is.na(r$values)])
})
# IRV: sd of the raw answers of a respondent (careless::irv, na.rm = TRUE)
irv <- apply(raw_sim, 1, function(v) sd(v, na.rm = TRUE))
# even-odd: per subscale the mean of its odd-positioned and of its even-positioned keyed items,
# correlated across subscales (pairwise), Spearman-Brown corrected (careless::evenodd returns the
# negative of this since version 1.2.0)
odd_means <- sapply(sim_scales, function(cols) rowMeans(keyed_sim[, cols[seq(1, length(cols), 2)]],
                                                        na.rm = TRUE))
even_means <- sapply(sim_scales, function(cols) rowMeans(keyed_sim[, cols[seq(2, length(cols), 2)]],
                                                         na.rm = TRUE))
odd_means[is.nan(odd_means)] <- NA
even_means[is.nan(even_means)] <- NA
even_odd <- sapply(seq_len(n), function(i) {
  ok <- !is.na(odd_means[i, ]) & !is.na(even_means[i, ])
  if (sum(ok) < 3) return(NA)
  r <- suppressWarnings(cor(odd_means[i, ok], even_means[i, ok]))
  2 * r / (1 + r)
})
# Mahalanobis distance on complete rows: R: stats::mahalanobis(x, colMeans(x), cov(x))
complete <- complete.cases(keyed_sim)
xc <- as.matrix(keyed_sim[complete, ])
d2 <- rep(NA_real_, n)
d2[complete] <- stats::mahalanobis(xc, colMeans(xc), cov(xc))
write_golden(data.frame(longstring = longstring, irv = irv, even_odd = even_odd,
                        mahalanobis = d2,
                        mahalanobis_p = pchisq(d2, df = ncol(xc), lower.tail = FALSE)),
             "sim_careless.csv", row_names = ids)

# ---- norms -------------------------------------------------------------------------------------------
# mean, sd (n - 1), n per scale, overall and per site x sex cell; percentile rank of each distinct
# score: 100 * (share below + half the share equal), the mid-rank definition
norm_rows <- list()
pct_rows <- list()
sim_total <- rowMeans(sim_scores, na.rm = TRUE)
sim_total[is.nan(sim_total)] <- NA
all_scores <- cbind(sim_scores, total = sim_total)
cells <- c(list(all = rep(TRUE, n)),
           setNames(lapply(split(seq_len(n), paste(site, sex, sep = "|")),
                           function(idx) seq_len(n) %in% idx),
                    sort(unique(paste(site, sex, sep = "|")))))
for (cell in names(cells)) {
  for (s in colnames(all_scores)) {
    v <- all_scores[cells[[cell]], s]
    v <- v[!is.na(v)]
    norm_rows[[paste(cell, s)]] <- data.frame(cell = cell, scale = s, n = length(v),
                                              mean = mean(v), sd = sd(v),
                                              stringsAsFactors = FALSE)
    if (s == "total") next  # the composite has hundreds of distinct values; mean/sd/n only
    u <- sort(unique(v))
    pr <- sapply(u, function(x) 100 * (mean(v < x) + 0.5 * mean(v == x)))
    pct_rows[[paste(cell, s)]] <- data.frame(cell = cell, scale = s, score = u, percentile = pr,
                                             stringsAsFactors = FALSE)
  }
}
write_golden(do.call(rbind, norm_rows), "sim_norms.csv")
write_golden(do.call(rbind, pct_rows), "sim_norm_percentiles.csv")

# ---- README ---------------------------------------------------------------------------------------
readme <- c(
  "# Golden reference values for the analysis package, from R",
  "",
  "Written by `Rscript tests/golden/make_golden_analysis.R` (run from the repository root; Debian",
  "packages r-base-core, r-cran-psych, r-cran-psychtools, r-cran-gparotation, r-cran-lavaan,",
  "r-cran-effectsize). CI does not need R. Do not edit these files by hand; re-run the script.",
  "Numbers have 17 significant digits; the script is the documentation of every R call.",
  "",
  "## Versions",
  "",
  paste0("- ", R.version.string),
  paste0("- psych ", packageVersion("psych"), ", psychTools ", packageVersion("psychTools"),
         ", GPArotation ", packageVersion("GPArotation"), ", lavaan ", packageVersion("lavaan"),
         ", effectsize ", packageVersion("effectsize")),
  "",
  "## Data",
  "",
  "- `bfi`: psychTools::bfi items (= ../bfi_items.csv, instrument ../bfi.yaml), keyed with",
  "  psychTools::bfi.keys on the declared range 1..6.",
  "- `holzinger_swineford.csv`: lavaan::HolzingerSwineford1939, x1..x9 (301 rows).",
  "- `sim_items.csv` + `sim.yaml`: a simulated 7-point inventory (`set.seed(20261125)`): 900",
  "  respondents, subscales calm (5 items), drive (6), ease (4), items C2 C5 D3 D6 E4 reverse keyed;",
  "  12 straight-liners and 12 random responders (`sim_careless_rows.csv`); 6% of cells missing at",
  "  random, 15 respondents without one subscale, 4 without any answer; group columns site",
  "  (north/south/west) and sex (f/m) with planted mean differences.",
  "",
  "## Files (prefix: data set)",
  "",
  "- `*_alpha_scales.csv`, `*_alpha_items.csv`: psych::alpha(keyed[, items]) per scale (pairwise);",
  "  `omega_total` from psych::fa(cov2cor(cov(x, use = 'pairwise')), 1, fm = 'minres') as",
  "  (sum L)^2 / ((sum L)^2 + sum(1 - L^2)). `*_alpha_listwise_*`: the same on na.omit(x).",
  "- `*_item_statistics.csv`: psych::describe(raw, type = 3) and counts of each answer.",
  "- `bfi_omega*.csv`: psych::omega(keyed, nfactors = 5 (3), fm = 'minres').",
  "- `bfi_fa_*`: psych::fa(keyed, 5, fm, rotate = 'oblimin' with/without normalize = TRUE).",
  "- `bfi_parallel*.csv`: psych::fa.parallel(keyed, fa = 'both', n.iter = 20), seed 20261124.",
  "- `bfi_kmo*.csv`, `bfi_cor_pairwise.csv`: psych::KMO, psych::cortest.bartlett, cor(pairwise).",
  "- `*_cfa_*.csv`: lavaan::cfa (ML, listwise) fitMeasures and standardizedSolution.",
  "- `sim_score_*.csv`: psych::describe and psych::corr.test(adjust = 'holm') of the scale means.",
  "- `sim_groups_*.csv`: t.test, wilcox.test(exact = FALSE), oneway.test, kruskal.test,",
  "  effectsize::hedges_g / rank_biserial / eta_squared / omega_squared / rank_epsilon_squared,",
  "  p.adjust(holm).",
  "- `sim_careless.csv`: long-string, IRV, even-odd, Mahalanobis (base R, careless's definitions).",
  "- `sim_norms.csv`, `sim_norm_percentiles.csv`: mean, sd, n and mid-rank percentile ranks."
)
writeLines(readme, file.path(out_dir, "README.md"))
cat("wrote", length(list.files(out_dir)), "files in", out_dir, "\n")
