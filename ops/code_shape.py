#!/usr/bin/env python3
"""Code shape of `src/`: file sizes, long functions and the module graph (issue #11).

Run from the repository root: `python3 ops/code_shape.py [--long]`. Prints the median lines per
file under `src/`, the functions over 120 lines outside tests (`#[cfg(test)]` modules and
`tests.rs` files), and the cycles between top-level modules found in `use crate::` / `crate::`
paths. `tests/it/architecture.rs` enforces the module order; this script only measures.
"""
import os
import re
import statistics
import sys

LIMIT = 120
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def strip(line):
    """The line without string literals and `//` comments (close enough for counting braces)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//")[0]


def files():
    for root, _, names in os.walk("src"):
        for name in names:
            if name.endswith(".rs"):
                yield os.path.join(root, name)


def module_of(path):
    parts = path.split(os.sep)[1:]
    first = parts[0]
    return first[:-3] if first.endswith(".rs") else first


def end_of_item(lines, i):
    """The last line of the item starting at line `i`: its closing brace, or its `;`."""
    depth, started, j = 0, False, i
    while j < len(lines):
        s = strip(lines[j])
        if not started and ";" in s and "{" not in s:
            return j
        depth += s.count("{") - s.count("}")
        started = started or "{" in s
        if started and depth <= 0:
            return j
        j += 1
    return j


def long_functions(path, lines):
    out = []
    in_test = path.endswith("tests.rs")
    i = 0
    while i < len(lines):
        # The item under `#[cfg(test)]` (a test module, a test-only impl) is skipped to its
        # end; `#[cfg(test)] mod tests;` only names a file.
        if re.match(r"^\s*#\[cfg\(test\)\]", lines[i]):
            i = end_of_item(lines, i + 1) + 1
            continue
        m = FN.match(lines[i])
        if m and not in_test:
            depth, started, j = 0, False, i
            while j < len(lines):
                s = strip(lines[j])
                if not started and ";" in s and "{" not in s:
                    break  # a declaration without a body
                depth += s.count("{") - s.count("}")
                started = started or "{" in s
                if started and depth <= 0:
                    break
                j += 1
            n = j - i + 1
            if started and n > LIMIT:
                out.append((path, i + 1, m.group(6), n))
        i += 1
    return out


def edges():
    """(from, to) module pairs named by `crate::` paths outside test code (as the test reads)."""
    out = set()
    for path in files():
        here = module_of(path)
        if here in ("lib", "main") or path.endswith("tests.rs"):
            continue
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        while i < len(lines):
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if lines[i].strip() == "#[cfg(test)]" and nxt.startswith("mod ") and nxt.endswith("{"):
                depth, i = 0, i + 1
                while i < len(lines):
                    s = strip(lines[i])
                    depth += s.count("{") - s.count("}")
                    i += 1
                    if depth <= 0:
                        break
                continue
            for m in PATH.finditer(strip(lines[i])):
                there = m.group(1)
                if there != here:
                    out.add((here, there))
            i += 1
    return out


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    nodes = sorted({a for a, _ in graph} | {b for _, b in graph})
    adj = {n: sorted(b for a, b in graph if a == n) for n in nodes}
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for n in nodes:
        if n not in index:
            visit(n)
    return out


def main():
    sizes, longs = [], []
    for path in sorted(files()):
        lines = open(path, encoding="utf-8").read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        sizes.append(len(lines))
        longs += long_functions(path, lines)
    graph = edges()
    print(f"files under src/: {len(sizes)}, median lines per file: {statistics.median(sizes)}")
    print(f"functions over {LIMIT} lines (outside tests): {len(longs)}")
    if "--long" in sys.argv:
        for path, line, name, n in sorted(longs, key=lambda x: -x[3]):
            print(f"  {path}:{line} {name} ({n} lines)")
    comps = cycles(graph)
    print(f"module edges: {len(graph)}, module cycles (strongly connected sets): {len(comps)}")
    for comp in comps:
        print("  " + " <-> ".join(comp))


if __name__ == "__main__":
    main()
