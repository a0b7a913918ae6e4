#!/usr/bin/env python3
"""Finds import cycles between the top-level modules of each crate (STYLE: no module import
cycles). An edge a -> b is any `crate::b…` path, or a `super::…` path that resolves to b, in the
code (not the comments) of a file of module a (the crate root, lib.rs or main.rs, is left out: it declares the modules).
Unit tests are left out (`tests.rs` files, `tests/` folders under src and inline
`#[cfg(test)] mod tests { … }` blocks): a test may look at anything.

Usage: .ci/module-cycles.py [CRATES_DIR]   (default: crates). Exits 1 if any cycle is found.
"""
import os
import re
import sys


def module_path(src, path):
    """The module path of a file under `src`, e.g. ['ledger', 'apply']."""
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return rel


def strip_comments(text):
    """The text without `//` comments (doc links name modules without importing them)."""
    return re.sub(r"//[^\n]*", "", text)


def strip_tests(text):
    """The text without inline `#[cfg(test)] mod name { … }` blocks."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def brace_items(text, start):
    """The first identifiers of the comma-separated items of the `{…}` opening at `start`."""
    depth, item, items, j = 0, "", [], start
    while j < len(text):
        c = text[j]
        if c == "{":
            depth += 1
            if depth == 1:
                j += 1
                continue
        elif c == "}":
            depth -= 1
            if depth == 0:
                items.append(item)
                break
        if c == "," and depth == 1:
            items.append(item)
            item = ""
        else:
            item += c
        j += 1
    return [m.group(0) for m in (re.match(r"\s*(\w+)", s) for s in items) if m]


def targets(text, here):
    """Absolute first-level module names referenced from a file of module path `here`."""
    found = set()
    for m in re.finditer(r"\b(crate|(?:super::)*super)::(\{|\w+)", text):
        base, nxt = m.group(1), m.group(2)
        if base == "crate":
            parent = []
        else:
            ups = base.count("super")
            if ups > len(here):
                continue
            parent = here[: len(here) - ups]
        names = brace_items(text, m.start(2)) if nxt == "{" else [nxt]
        for name in names:
            if name == "self":
                path = parent
            else:
                path = parent + [name]
            if path:
                found.add(path[0])
    return found


def crate_graph(src):
    graph = {}
    for root, dirs, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs") or f == "tests.rs":
                continue
            path = os.path.join(root, f)
            here = module_path(src, path)
            if not here or "tests" in here[1:]:
                continue
            text = strip_tests(strip_comments(open(path, encoding="utf-8").read()))
            top = here[0]
            graph.setdefault(top, set())
            for target in targets(text, here):
                if target != top:
                    graph[top].add(target)
    modules = set(graph)
    return {a: {b for b in bs if b in modules} for a, bs in graph.items()}


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    crates_dir = sys.argv[1] if len(sys.argv) > 1 else "crates"
    found = False
    for name in sorted(os.listdir(crates_dir)):
        src = os.path.join(crates_dir, name, "src")
        if not os.path.isdir(src):
            continue
        graph = crate_graph(src)
        loops = cycles(graph)
        edges = sum(len(v) for v in graph.values())
        if loops:
            found = True
            for component in loops:
                links = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]
                print(f"{name}: cycle among {', '.join(component)}: {'; '.join(links)}")
        else:
            print(f"{name}: no cycle ({len(graph)} modules, {edges} edges)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
