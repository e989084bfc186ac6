"""Sources/LogIngest/HTMLEntities.swift is exactly what generate_html_entities.py makes from this Python's
html module (the tables TCA4RecText.htmlUnescape uses; TCA4RecTextTests compares the results with Python)."""
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def test_the_swift_entity_table_is_pythons():
    result = subprocess.run([sys.executable, str(HERE / "generate_html_entities.py"), "--check"])
    assert result.returncode == 0, "regenerate with: python3 Tests/python/generate_html_entities.py"
