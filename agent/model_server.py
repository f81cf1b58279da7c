"""`python -m agent.model_server`: llama-cpp-python's OpenAI server behind halops's Host/Origin guard.

`python -m llama_cpp.server` answers any Host, so a web page can reach it through DNS rebinding.
This module takes the same command line, builds the same app with llama-cpp-python's own app
factory, wraps it in `safety.httpguard` and runs it with uvicorn, as llama-cpp-python's __main__
does. `--halops_allowed_host NAME` (repeatable) adds names to loopback and localhost.
"""

from __future__ import annotations

import argparse
import sys

from halops.llm.server import ALLOWED_HOST_OPTION


def main(argv: list[str] | None = None) -> int:
    # Heavy imports here, not at module level: `--help` of halops never loads llama.cpp.
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import ModelSettings, ServerSettings, Settings

    from safety.httpguard import guard

    parser = argparse.ArgumentParser(description="llama-cpp-python's server, Host/Origin-checked.")
    add_args_from_model(parser, Settings)
    parser.add_argument(
        ALLOWED_HOST_OPTION,
        dest="halops_allowed_hosts",
        action="append",
        default=[],
        help="A Host name to answer besides loopback addresses and localhost (repeatable).",
    )
    args = parser.parse_args(argv)
    server_settings = parse_model_from_args(ServerSettings, args)
    model_settings = [parse_model_from_args(ModelSettings, args)]
    app = create_app(server_settings=server_settings, model_settings=model_settings)
    uvicorn.run(
        guard(app, args.halops_allowed_hosts),
        host=server_settings.host,
        port=server_settings.port,
        ssl_keyfile=server_settings.ssl_keyfile,
        ssl_certfile=server_settings.ssl_certfile,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
