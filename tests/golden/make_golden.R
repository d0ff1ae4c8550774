# Golden reference scores for surveytool's scoring engine, made by R's psych package.
#
# Run once, from the repository root, and commit the files it writes:
#
#     Rscript tests/golden/make_golden.R
#
# Needs R with psych and psychTools; on Debian/Ubuntu:
#
#     apt-get install r-base-core r-cran-psych r-cran-psychtools
#
# CI never runs this script: tests/test_scoring_vs_r.py reads the CSV files it writes.
# Output (all in tests/golden/):
#   bfi_items.csv                     psychTools::bfi items A1..O5 with id, gender, age (NA = empty)
#   bfi_scoreitems_mean.csv           psych::scoreItems(...)$scores on bfi_items.csv
#   bfi_planted_items.csv             the same items with seeded planted missingness
#   bfi_planted_scoreitems_mean.csv   psych::scoreItems(...)$scores on bfi_planted_items.csv
#   README.md                         what each file is, the exact R calls and versions
# The instrument file tests/golden/bfi.yaml is written by hand, not by this script.

suppressPackageStartupMessages({
  library(psych)
  library(psychTools)
})

out_dir <- file.path("tests", "golden")
if (!dir.exists(out_dir)) {
  stop("run from the repository root: Rscript tests/golden/make_golden.R")
}

item_names <- colnames(psychTools::bfi)[1:25] # A1..A5 C1..C5 E1..E5 N1..N5 O1..O5

# The standard bfi keys (identical to psychTools::bfi.keys; written out so the file says it).
keys <- list(
  agree         = c("-A1", "A2", "A3", "A4", "A5"),
  conscientious = c("C1", "C2", "C3", "-C4", "-C5"),
  extraversion  = c("-E1", "-E2", "E3", "E4", "E5"),
  neuroticism   = c("N1", "N2", "N3", "N4", "N5"),
  openness      = c("O1", "-O2", "O3", "O4", "-O5")
)
stopifnot(identical(unname(lapply(keys, unname)), unname(lapply(psychTools::bfi.keys, unname))))

# Full precision: 17 significant digits round-trip every double exactly.
fmt17 <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

score_mean <- function(items) {
  # The call the golden files document (and the tests quote next to each assertion).
  res <- psych::scoreItems(keys, items, impute = "none", min = 1, max = 6, totals = FALSE)
  res$scores
}

write_items <- function(frame, path) {
  write.csv(frame, path, row.names = FALSE, na = "", quote = FALSE)
}

write_scores <- function(ids, scores, path) {
  stopifnot(identical(colnames(scores), names(keys)))
  out <- data.frame(id = ids, stringsAsFactors = FALSE)
  for (s in colnames(scores)) out[[s]] <- fmt17(scores[, s])
  write.csv(out, path, row.names = FALSE, quote = FALSE)
}

# ---- a. the real data set -------------------------------------------------------------------
bfi <- psychTools::bfi
ids <- rownames(bfi) # the respondent ids psychTools ships (61617, 61618, ...), unique
stopifnot(!anyDuplicated(ids), nrow(bfi) == 2800)
items <- bfi[, item_names]
real <- data.frame(id = ids, items, gender = bfi$gender, age = bfi$age, check.names = FALSE)
write_items(real, file.path(out_dir, "bfi_items.csv"))

# ---- b. scoreItems on it ----------------------------------------------------------------------
scores_real <- score_mean(items)
write_scores(ids, scores_real, file.path(out_dir, "bfi_scoreitems_mean.csv"))

# ---- c. planted missingness -------------------------------------------------------------------
set.seed(20261124)
planted <- as.matrix(items)
n <- nrow(planted)
# 15% of all item cells (drawn over every cell, so some already-missing cells are drawn again)
cells <- sample(length(planted), round(0.15 * length(planted)))
planted[cells] <- NA
scale_cols <- lapply(keys, function(k) sub("^-", "", k))
# 50 respondents with every item of one scale missing (10 per scale)
blank_rows <- sample(n, 50)
blank_scale <- rep(seq_along(keys), length.out = 50)
for (i in seq_along(blank_rows)) planted[blank_rows[i], scale_cols[[blank_scale[i]]]] <- NA
# 5 respondents with every item missing (all five scores NA)
rest <- setdiff(seq_len(n), blank_rows)
empty_rows <- sample(rest, 5)
planted[empty_rows, ] <- NA
# 10 respondents with exactly one item answered per scale (the min_answered = 1 edge,
# half of the kept items reverse keyed or not, as the draw falls)
rest <- setdiff(rest, empty_rows)
single_rows <- sample(rest, 10)
for (r in single_rows) {
  for (cols in scale_cols) {
    keep <- sample(cols, 1)
    planted[r, setdiff(cols, keep)] <- NA
    if (is.na(planted[r, keep])) planted[r, keep] <- items[r, keep]
    if (is.na(planted[r, keep])) planted[r, keep] <- 3L # the original was missing too
  }
}
storage.mode(planted) <- "integer"
planted_frame <- data.frame(id = ids, planted, gender = bfi$gender, age = bfi$age,
                            check.names = FALSE)
write_items(planted_frame, file.path(out_dir, "bfi_planted_items.csv"))
scores_planted <- score_mean(as.data.frame(planted))
write_scores(ids, scores_planted, file.path(out_dir, "bfi_planted_scoreitems_mean.csv"))

# ---- d. README ----------------------------------------------------------------------------------
n_na_real <- colSums(is.na(scores_real))
n_na_planted <- colSums(is.na(scores_planted))
readme <- c(
  "# Golden reference scores from R (psych)",
  "",
  "Written by `Rscript tests/golden/make_golden.R` (run from the repository root; Debian packages",
  "r-base-core, r-cran-psych, r-cran-psychtools). CI does not need R: `tests/test_scoring_vs_r.py`",
  "compares surveytool's scores with these files. Do not edit the CSV files by hand; re-run the script.",
  "",
  "## Versions",
  "",
  paste0("- ", R.version.string),
  paste0("- psych ", as.character(packageVersion("psych")),
         ", psychTools ", as.character(packageVersion("psychTools"))),
  "",
  "## Keys (psychTools::bfi.keys)",
  "",
  "```r",
  "keys <- list(agree = c(\"-A1\", \"A2\", \"A3\", \"A4\", \"A5\"),",
  "             conscientious = c(\"C1\", \"C2\", \"C3\", \"-C4\", \"-C5\"),",
  "             extraversion = c(\"-E1\", \"-E2\", \"E3\", \"E4\", \"E5\"),",
  "             neuroticism = c(\"N1\", \"N2\", \"N3\", \"N4\", \"N5\"),",
  "             openness = c(\"O1\", \"-O2\", \"O3\", \"O4\", \"-O5\"))",
  "```",
  "",
  "## Files",
  "",
  paste0("- `bfi_items.csv`: psychTools::bfi, ", nrow(real), " rows: `id` (the data set's row names),",
         " items A1..O5 (1..6; ", sum(is.na(items)), " missing cells written as empty), `gender`, `age`."),
  "- `bfi_scoreitems_mean.csv`: `id` and the five scale means, 17 significant digits (`sprintf(\"%.17g\")`),",
  "  from",
  "  `psych::scoreItems(keys, bfi[, 1:25], impute = \"none\", min = 1, max = 6, totals = FALSE)$scores`.",
  paste0("  Scores that are NA: ", paste(names(n_na_real), n_na_real, sep = " ", collapse = ", "),
         " (no bfi respondent misses a whole scale)."),
  paste0("- `bfi_planted_items.csv`: the same rows and columns with planted missingness ",
         "(`set.seed(20261124)`):"),
  paste0("  15% of the item cells drawn at random set missing; 50 respondents with all items of one",
         " scale missing (10 per scale); 5 respondents with every item missing; 10 respondents with",
         " exactly one item answered per scale. ", sum(is.na(planted)), " missing item cells."),
  "- `bfi_planted_scoreitems_mean.csv`: `id` and the five scale means of the planted items, from",
  "  `psych::scoreItems(keys, planted, impute = \"none\", min = 1, max = 6, totals = FALSE)$scores`.",
  paste0("  Scores that are NA: ", paste(names(n_na_planted), n_na_planted, sep = " ", collapse = ", "),
         "."),
  "",
  "## Notes",
  "",
  "- With `impute = \"none\"` psych scores each scale as `rowMeans(sub.item, na.rm = TRUE)` after",
  "  reversing the negatively keyed items as `max + min - x`, with `min`/`max` as given (1 and 6).",
  "  Without `min`/`max` it would use the observed range of all items, which need not be 1..6.",
  "- A respondent with every item of a scale missing gets `NaN` from `rowMeans` (0/0); it is written",
  "  as `NA`. Any answered item gives a score (surveytool's `min_answered: 1`).",
  "- `tests/golden/bfi.yaml` is the matching surveytool instrument (written by hand)."
)
writeLines(readme, file.path(out_dir, "README.md"))

cat("wrote", file.path(out_dir, c("bfi_items.csv", "bfi_scoreitems_mean.csv",
                                   "bfi_planted_items.csv", "bfi_planted_scoreitems_mean.csv",
                                   "README.md")), sep = "\n  ")
cat("\n")
