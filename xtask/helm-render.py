"""Renders or lints a Helm chart with Helm's own template engine, offline.

The engine is the Helm Go SDK bundled by the `helm-python-sdk` package (no helm binary, no
cluster). `cargo xtask ci` (through `xtask/setup-test-tools.sh`) installs it into a venv
under the target directory; the chart tests in xtask/src/deploy.rs run this script with that
venv's python.

    python helm-render.py template CHART RELEASE NAMESPACE [VALUES_JSON]
        prints every rendered manifest, as `helm template` does
    python helm-render.py lint CHART NAMESPACE [VALUES_JSON]
        prints the lint report as JSON (helm lint --strict)
"""

import json
import sys

import helm_python as helm


def main(argv):
    if len(argv) >= 4 and argv[0] == "template":
        chart, release, namespace = argv[1:4]
        values = json.loads(argv[4]) if len(argv) > 4 else None
        rendered = helm.Chart.load(chart).render(
            values, name=release, namespace=namespace, is_install=True
        )
        for source in sorted(rendered):
            if rendered[source].strip():
                print(f"---\n# Source: {source}\n{rendered[source].strip()}")
        return 0
    if len(argv) >= 3 and argv[0] == "lint":
        chart, namespace = argv[1:3]
        values = json.loads(argv[3]) if len(argv) > 3 else None
        print(json.dumps(helm.lint(chart, values, strict=True, namespace=namespace)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except helm.HelmError as e:
        print(f"helm ({helm.helm_sdk_version()}): {e}", file=sys.stderr)
        sys.exit(1)
