#!/usr/bin/env bash
# Check the report PDF built by `make report`: a short document with text, headings and figures.
#
#   bash tools/check_report.sh [report.pdf]
#
# Fails (exit 1, naming each problem) unless the PDF has 1..3 pages, its text contains the two
# section headings and a test accuracy, it embeds at least 2 images (the figures), and pypdf's
# page count (code_base.submission.count_pages, used by pack) agrees with pdfinfo's.
# Needs poppler-utils (pdfinfo, pdftotext, pdfimages) and the venv's python on PATH.
set -euo pipefail
if [ "$#" -gt 0 ]; then
    pdf=$(realpath -m -- "$1")   # relative to where the script was called from
fi
cd "$(dirname "$0")/.."
pdf="${pdf:-report.pdf}"
for tool in pdfinfo pdftotext pdfimages; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool not found; install poppler-utils" >&2
        exit 1
    fi
done
if [ ! -s "$pdf" ]; then
    echo "error: $pdf is missing or empty; build it with 'make report'" >&2
    exit 1
fi

problems=0
fail() { echo "FAIL: $*" >&2; problems=$((problems + 1)); }

pages=$(pdfinfo "$pdf" | awk '/^Pages:/ {print $2}')
if [ -z "$pages" ] || [ "$pages" -lt 1 ] || [ "$pages" -gt 3 ]; then
    fail "$pdf has ${pages:-no} pages, expected 1 to 3"
fi

# pack and grade-class count pages with pypdf (pure Python): it must agree with poppler on the
# real report (xelatex writes compressed object streams). Needs the venv's python on PATH.
if ! counted=$(python -c 'import sys; from code_base.submission import count_pages; print(count_pages(sys.argv[1]))' "$pdf"); then
    fail "$pdf: code_base.submission.count_pages failed (is the venv's python on PATH?)"
elif [ "$counted" != "$pages" ]; then
    fail "$pdf: pypdf counts $counted pages, pdfinfo $pages"
fi

text=$(pdftotext -layout "$pdf" -)
for heading in "The layers" "The best network on CIFAR2" "im2col" "Adam" "dropout" \
               "test accuracy" "Findings"; do
    if ! grep -qi -- "$heading" <<<"$text"; then
        fail "$pdf: text '$heading' not found"
    fi
done
if ! grep -Eq "[0-9]+\.[0-9]+% test accuracy" <<<"$text"; then
    fail "$pdf: no 'NN.N% test accuracy' statement found"
fi

# pdfimages -list prints two header lines, then one line per embedded image; a figure with
# transparency also has an "smask" line, which is not counted.
images=$(pdfimages -list "$pdf" | tail -n +3 | awk '$3 == "image"' | wc -l)
if [ "$images" -lt 2 ]; then
    fail "$pdf embeds $images images, expected at least 2 figures"
fi

if [ "$problems" -gt 0 ]; then
    echo "$problems problem(s) in $pdf" >&2
    exit 1
fi
echo "$pdf: $pages page(s), $images figures, headings present"
