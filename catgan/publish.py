"""Publish a weights folder to the Hugging Face Hub, with a model card rendered for the repo.

    python -m catgan.publish weights/dcgan-64 USER/REPO [--private] [--revision BRANCH]
                             [--results results/table1.json] [--run runs/dcgan-64]

The token comes from HF_TOKEN or `hf auth login`. Uploading the same folder twice makes no commit.
"""
import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catgan.publish", description=__doc__.splitlines()[0])
    parser.add_argument("weights", help="weights folder (config.json, model.safetensors, ...)")
    parser.add_argument("repo_id", help="USER/REPO on the Hub (created if missing)")
    parser.add_argument("--private", action="store_true",
                        help="create the repo private (an existing repo keeps its visibility)")
    parser.add_argument("--revision", help="branch to commit to (created from main if missing); default main")
    parser.add_argument("--results", help="catgan.evaluate results JSON (e.g. results/table1.json): "
                                          "the row naming this model fills the card's metrics")
    parser.add_argument("--run", help="run folder the weights came from (training config, summary, evolution.gif)")
    parser.add_argument("--message", help="commit message")
    args = parser.parse_args(argv)

    from .hub import HubError, publish

    try:
        done = publish(args.weights, args.repo_id, private=args.private, revision=args.revision,
                       results=args.results, run_dir=args.run, commit_message=args.message)
    except (HubError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    verb = "published" if done.changed else "already up to date, no new commit:"
    print(f"{verb} {', '.join(done.files)} -> {done.commit_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
