"""Every command, group and option explains itself, and docs/cli.md is its --help.

The tree is the real one: built-in commands and what the default and bundled
plugins register (the reports), through the real plugin manager.
"""

import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
FIX = "make docs"  # the Makefile target that regenerates docs/cli.md with cog


def test_the_tree_has_every_group_and_the_plugins_reports(tree):
    paths = {ctx.command_path for ctx in tree}
    assert {"medsec", "medsec appt waitlist add", "medsec patient coverage list", "medsec config check"} <= paths
    assert {"medsec report aging", "medsec report referrals"} <= paths  # registered by default plugins


def test_every_command_and_group_has_help(tree):
    missing = [ctx.command_path for ctx in tree if not (ctx.command.help or "").strip()]
    assert missing == [], f"commands without help text: {missing}"


def test_every_option_has_help(tree):
    missing = [f"{ctx.command_path} {param.opts[-1]}" for ctx in tree for param in ctx.command.params
               if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()]
    assert missing == [], f"options without help text: {missing}"


def test_no_summary_is_cut_off_in_a_listing(tree):
    cut = [f"{ctx.command_path}: {ctx.command.get_short_help_str()}" for ctx in tree[1:]
           if ctx.command.get_short_help_str().endswith("...")]
    assert cut == [], "summaries cut off at 45 characters (shorten the first sentence or set short_help): " \
                      f"{cut}"


def test_every_command_shows_an_example(tree):
    leaves = [ctx for ctx in tree if not isinstance(ctx.command, click.Group)]
    without = [ctx.command_path for ctx in leaves if "Examples:" not in (ctx.command.help or "")]
    assert without == [], f"commands whose help has no 'Examples:' block: {without}"


def test_docs_cli_md_matches_the_help():
    proc = subprocess.run([sys.executable, "-m", "cogapp", "--check", "--diff", "docs/cli.md"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, (f"docs/cli.md differs from the commands' --help; run '{FIX}' "
                                  f"and commit it\n{proc.stdout}{proc.stderr}")
