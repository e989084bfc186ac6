#!/usr/bin/env python3
"""Checks the dependency directions of ARCHITECTURE.md §6, which the compiler does not enforce.

executables → StageCommands → stage modules / PipelineReport → PipelineGraph → ArtifactFormats → PipelineCore;
only a wrapper imports its C module; a stage module may use upstream stage modules only.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SYSTEM = {"Foundation", "Glibc", "Darwin", "Dispatch", "Testing", "XCTest", "FoundationEssentials"}
WRAPPERS = {"SQLiteStore": "CSQLite", "Zstd": "CZstd", "Zlib": "CZlib", "DenseLinearAlgebra": "COpenBLAS"}
STAGES = ["LogIngest", "Interactions", "BPETokenizer", "TitleTrie", "CollaborativeFiltering", "SoftLabels"]
BASE = {"ArtifactFormats", "PipelineCore", "DenseLinearAlgebra", "Zstd"}
ALLOWED = {
    "PipelineCore": {"Crypto"},
    "ArtifactFormats": {"PipelineCore", "Zstd", "Zlib"},
    "PipelineGraph": {"ArtifactFormats", "PipelineCore", "SQLiteStore", "Yams"},
    "PipelineReport": {"PipelineGraph", "ArtifactFormats", "PipelineCore"},
    "StageCommands": {"ArgumentParser", "PipelineGraph", "PipelineReport", "ArtifactFormats", "PipelineCore", *STAGES},
}
for wrapper, c_module in WRAPPERS.items():
    ALLOWED[wrapper] = {c_module}
# The gzip wrapper inflates with ISA-L's igzip and deflates (tests, fixtures) with zlib.
ALLOWED["Zlib"] = {"CZlib", "CIsal"}
for index, stage in enumerate(STAGES):
    ALLOWED[stage] = BASE | set(STAGES[:index])
EXECUTABLES = {"StageCommands"}

IMPORT = re.compile(
    r"^[ \t]*(?:@[\w()]+[ \t]+)*(?:(?:public|internal|private|fileprivate|package)[ \t]+)?import[ \t]+"
    r"(?:(?:struct|class|enum|protocol|func|var|let|typealias)[ \t]+)?(\w+)", re.M)


def main() -> int:
    problems = []
    for target in sorted((ROOT / "Sources").iterdir()):
        if not target.is_dir() or target.name.startswith("C") and (target / "module.modulemap").exists():
            continue
        allowed = ALLOWED.get(target.name, EXECUTABLES if target.name.startswith("tca") else None)
        if allowed is None:
            problems.append(f"Sources/{target.name}: module not in the layering table of .ci/check_imports.py")
            continue
        for source in sorted(target.rglob("*.swift")):
            for module in IMPORT.findall(source.read_text(encoding="utf-8")):
                if module in SYSTEM or module == target.name:
                    continue
                if module not in allowed:
                    problems.append(
                        f"{source.relative_to(ROOT)}: imports {module}, which {target.name} may not "
                        f"(allowed: {', '.join(sorted(allowed))})")
    for problem in problems:
        print(f"check-imports: {problem}", file=sys.stderr)
    if not problems:
        print("check-imports: layering ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
