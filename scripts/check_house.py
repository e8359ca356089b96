#!/usr/bin/env python3
"""Checks the house rules of docs/architecture.md on the production sources.

  scripts/check_house.py [ROOT]

Rules (each violation is printed as FILE:LINE: message; exit status 1 if any):
  1. No production source file over 900 lines.
  2. No function over 120 lines (a definition that starts at column 0 and
     ends at the next "}" at column 0, as clang-format writes them).
  3. Every production header states its thread-safety ("Thread safety" or
     "thread-safe" in its text).
  4. Third-party headers stay in their rooms: Boost (Beast, Asio) only under
     server/http/; yaml-cpp only in policies/, cli/ and server/config.cc
     (the daemon's YAML config file); LMDB only
     in storage/ .cc files and storage/store_internal.h; PostgreSQL's client
     (libpq, libpqxx) only in cluster/; OpenSSL (libcrypto) only in
     server/page_token.cc; RapidJSON nowhere in engine/,
     common/ or membership/.
Tests (*_test.cc), fuzz targets and test support are not production code.
"""
import os
import re
import sys

FOLDERS = ["common", "engine", "policies", "storage", "cluster", "membership",
           "server", "cli"]
MAX_FILE = 900
MAX_FUNCTION = 120
NOT_A_FUNCTION = re.compile(
    r"^(namespace|class|struct|enum|union|extern|template|using|typedef|"
    r"static_assert|#|//|/\*|\*|\}|$)")


def production_files(root):
    for folder in FOLDERS:
        base = os.path.join(root, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames
                           if d not in ("fuzz", "testdata", "corpus")]
            for name in sorted(filenames):
                if not name.endswith((".h", ".cc")):
                    continue
                if name.endswith("_test.cc") or name.startswith("test_"):
                    continue
                if name in ("crash_writer.cc",):  # a test helper binary
                    continue
                yield os.path.join(dirpath, name)


def long_functions(lines):
    """Yields (first line number, length) of functions over MAX_FUNCTION."""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line[:1].isspace() or NOT_A_FUNCTION.match(line):
            i += 1
            continue
        # A signature: up to the line that ends with "{" (at most 8 lines).
        j = i
        while j < len(lines) and j < i + 8 and not lines[j].rstrip().endswith(
                ("{", ";")):
            j += 1
        if j >= len(lines) or not lines[j].rstrip().endswith("{"):
            i = j + 1
            continue
        signature = " ".join(lines[i:j + 1])
        if "(" not in signature or re.search(r"=\s*\{$", signature.rstrip()):
            i = j + 1
            continue
        k = j + 1
        while k < len(lines) and lines[k].rstrip() != "}":
            k += 1
        length = k - i + 1
        if length > MAX_FUNCTION:
            yield i + 1, length
        i = k + 1


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    problems = []
    for path in production_files(root):
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.split("\n")
        if len(lines) - 1 > MAX_FILE:
            problems.append(f"{rel}:1: {len(lines) - 1} lines (at most "
                            f"{MAX_FILE})")
        for first, length in long_functions(lines):
            problems.append(f"{rel}:{first}: a function of {length} lines "
                            f"(at most {MAX_FUNCTION})")
        if rel.endswith(".h") and not re.search(
                r"[Tt]hread[ -]safe(ty)?", text):
            problems.append(f"{rel}:1: the header does not state its "
                            "thread safety")
        folder = rel.split(os.sep)[0]
        for n, line in enumerate(lines, 1):
            m = re.match(r'#include [<"]([^>"]+)[>"]', line)
            if not m:
                continue
            inc = m.group(1)
            where = None
            if inc.startswith("boost/") and not rel.startswith(
                    os.path.join("server", "http") + os.sep):
                where = "Boost belongs to server/http/"
            elif inc.startswith("yaml-cpp/") and not (
                    folder in ("policies", "cli") or
                    rel == os.path.join("server", "config.cc")):
                where = ("yaml-cpp belongs to policies/, cli/ and the "
                         "daemon's config reader")
            elif inc == "lmdb.h" and not (
                    folder == "storage" and (rel.endswith(".cc") or
                                             rel.endswith("store_internal.h"))):
                where = "LMDB belongs to storage/ sources"
            elif (inc in ("libpq-fe.h", "libpq-events.h") or
                  inc.startswith(("pqxx/", "postgresql/"))) and (
                      folder != "cluster"):
                where = "PostgreSQL's client belongs to cluster/"
            elif inc.startswith("openssl/") and rel != os.path.join(
                    "server", "page_token.cc"):
                where = "OpenSSL belongs to server/page_token.cc"
            elif inc.startswith("rapidjson/") and folder in (
                    "engine", "common", "membership"):
                where = f"RapidJSON does not belong in {folder}/"
            if where:
                problems.append(f"{rel}:{n}: includes {inc}: {where}")
    for p in problems:
        print(p)
    if problems:
        print(f"check_house: {len(problems)} problem(s)")
        return 1
    print("check_house: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
