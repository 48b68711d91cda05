"""workbench kb add | list | show | search | remove: knowledge bases in the database file."""

from __future__ import annotations

import argparse
import sys


def register(sub, common) -> None:
    kb = sub.add_parser("kb", help="knowledge bases: add files, list, show, search, remove")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)

    p = kb_sub.add_parser("add", parents=[common], help="chunk files into a base (a new version when they changed)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("files", metavar="FILE", nargs="+",
                   help="Markdown, text, JSONL or CSV (one chunk per row from --text-field; FAQ files: one per entry)")
    p.add_argument("--chunk-size", type=int, default=800, help="most characters in a chunk (default 800)")
    p.add_argument("--overlap", type=int, default=100,
                   help="characters a chunk repeats from the one before in the same section (default 100)")
    p.add_argument("--text-field", default="text", help="JSONL/CSV field holding the text (default text)")
    p.add_argument("--id-field", default="id", help="JSONL/CSV field holding the chunk id (default id)")
    p.add_argument("--title-field", default="title", help="JSONL/CSV field holding the title (default title)")
    p.add_argument("--tokenizer", default="auto", choices=["auto", "english", "cjk-bigram", "jieba"],
                   help="auto: cjk-bigram when the files are mostly Chinese, else english (stemmed)")
    p.set_defaults(func=add)

    p = kb_sub.add_parser("list", parents=[common], help="list bases")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=list_cmd)

    p = kb_sub.add_parser("show", parents=[common], help="a base's version, signature, sources and first chunks")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-n", "--chunks", type=int, default=5, help="chunks to show (default 5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=show)

    p = kb_sub.add_parser("search", parents=[common], help="the best chunks for a query (BM25)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("query", metavar="QUERY")
    p.add_argument("-k", type=int, default=5, help="passages to return (default 5)")
    p.add_argument("--method", default="bm25", choices=["bm25", "dense", "hybrid"],
                   help="bm25 (default); dense: all-MiniLM-L6-v2 embeddings, English only; hybrid: both, fused by "
                        "reciprocal rank")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=search)

    p = kb_sub.add_parser("remove", parents=[common], help="forget a base (versions that runs used stay)")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=remove)


def add(args: argparse.Namespace) -> int:
    from workbench import knowledge

    chunking = knowledge.Chunking(max_chars=args.chunk_size, overlap=args.overlap, text_field=args.text_field,
                                  id_field=args.id_field, title_field=args.title_field)
    r = knowledge.add_base(args.name, args.files, chunking, args.tokenizer, db=args.db)
    what = "new version" if r.new_version else "unchanged, same version"
    print(f"{r.name}: {r.n_chunks} chunks, version {r.version} ({what}; tokenizer {r.signature['tokenizer']}, "
          f"chunks up to {chunking.max_chars} chars, overlap {chunking.overlap})")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    from workbench import knowledge
    from workbench.cli.output import print_json, table

    bases = knowledge.list_bases(args.db)
    if args.json:
        print_json(bases)
        return 0
    if not bases:
        print("no knowledge bases yet: workbench kb add NAME FILE...", file=sys.stderr)
        return 0
    table(["name", "version", "chunks", "tokenizer", "versions", "files", "updated"],
          [[b["name"], b["version"], b["n_chunks"], b["tokenizer"], b["n_versions"],
            ", ".join(s["file"] for s in b["sources"]), str(b["updated_at"])[:19]] for b in bases])
    return 0


def show(args: argparse.Namespace) -> int:
    from workbench import knowledge
    from workbench.cli.output import print_json

    meta = knowledge.show_base(args.name, args.db, limit=args.chunks)
    if args.json:
        print_json(meta)
        return 0
    sig = meta["signature"]
    print(f"{meta['name']}  version {meta['version']}  {meta['n_chunks']} chunks  tokenizer {sig['tokenizer']}  "
          f"chunking {sig['chunking']}")
    for s in meta["sources"]:
        print(f"  {s['file']}  {s['bytes']:,} bytes  sha256 {s['sha256'][:12]}")
    for c in meta["chunks"]:
        title = f" [{c['title']}]" if c["title"] else ""
        print(f"\n{c['id']}{title}  ({c['source']})\n{_clip(c['text'])}")
    return 0


def search(args: argparse.Namespace) -> int:
    from workbench import knowledge
    from workbench.cli.output import print_json

    version, (passages,) = knowledge.search(args.name, [args.query], args.k, db=args.db, where="kb search",
                                            method=args.method)
    if args.json:
        print_json({"base": args.name, "version": version, "query": args.query, "method": args.method,
                    "passages": [p.to_dict() for p in passages]})
        return 0
    if not passages:
        print("no passage found (BM25 returns only chunks that share a term with the query)", file=sys.stderr)
    for p in passages:
        title = f" [{p.title}]" if p.title else ""
        print(f"{p.rank}. {p.id}{title}  score {p.score:.3f}\n   {_clip(p.text, 240)}")
    return 0


def remove(args: argparse.Namespace) -> int:
    from workbench import knowledge

    dropped = knowledge.remove_base(args.name, args.db)
    print(f"removed {args.name} ({dropped} version(s) dropped; versions used by runs are kept)")
    return 0


def _clip(text: str, n: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
