"""The `simdrop` console script: runs the command-line tool shipped in the
package (simdrop/bin/simdrop, the same program `cmake --install` puts in
<prefix>/bin), with the arguments given. `simdrop --help` lists its subcommands."""
import os
import sys


def main():
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "simdrop")
    if not os.access(tool, os.X_OK):
        sys.stderr.write("simdrop: the command-line tool is not in this installation (%s)\n" % tool)
        return 2
    os.execv(tool, [tool] + sys.argv[1:])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
