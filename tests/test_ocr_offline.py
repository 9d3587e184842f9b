"""The OCR engine never reaches the network: it loads and reads with every socket blocked.

rapidocr 3 downloads a model when its config names none that exists on disk (its
`DownloadFile` fetches from modelscope.cn). The engine names every file inside the wheel, so
that path is never taken; these tests prove it in a fresh interpreter where any connection,
name lookup or download attempt raises.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from proofwatch.engines.ocr import model_files, rapidocr_params

BLOCKED = textwrap.dedent(
    """
    import socket

    class Blocked(OSError):
        pass

    def refuse(*args, **kwargs):
        raise Blocked("network blocked by the test")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.socket.sendto = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    # A real attempt fails: the block is in force before anything else is imported.
    try:
        socket.create_connection(("www.modelscope.cn", 443), timeout=2)
    except Blocked:
        pass
    else:
        raise SystemExit("the network block did not hold")
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", 9))
    except Blocked:
        pass
    else:
        raise SystemExit("the network block did not hold")

    import rapidocr.utils.download_file as download_file

    def no_download(*args, **kwargs):
        raise SystemExit("rapidocr tried to download a file")

    REAL_RUN = download_file.DownloadFile.run.__func__  # for the counter-proof only
    download_file.DownloadFile.run = classmethod(no_download)
    """
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKED + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_model_file_is_in_the_wheels_and_named() -> None:
    files = model_files()
    assert {"det", "rec", "cls"} <= set(files)
    params = rapidocr_params(files)
    for task in ("Det", "Cls", "Rec"):
        assert params[f"{task}.model_path"] == str(files[task.lower()])
    assert params["Global.use_cls"] is False


def test_loads_and_reads_with_the_network_blocked() -> None:
    done = _run(
        """
        from proofwatch.engines.base import Question
        from proofwatch.engines.ocr import OcrEngine
        from proofgen.samples import draw_code

        engine = OcrEngine()
        engine.load()
        question = Question("code", "text", "Transcribe the code.")
        reading = engine.ask(draw_code("48213", seed=1, style="neat"), [question])["code"]
        assert "48213" in reading.values, reading.values
        print("read offline")
        """
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "read offline" in done.stdout


def test_rapidocr_left_to_its_defaults_goes_through_its_downloader() -> None:
    # The counter-proof: without model paths rapidocr hands every model to its downloader,
    # which only skips the fetch when the file on disk has the expected sha256; a missing
    # or changed file would be fetched. The engine's paths keep it off that road entirely.
    done = _run(
        """
        import numpy as np
        import rapidocr.utils.download_file as download_file
        from rapidocr import RapidOCR

        urls = []

        def spy(cls, params):
            urls.append(params.file_url)
            return REAL_RUN(cls, params)

        download_file.DownloadFile.run = classmethod(spy)
        RapidOCR(params={"Global.log_level": "critical"})(np.full((64, 200, 3), 255, np.uint8))
        print("asked", *urls)
        """
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "asked https://www.modelscope.cn/" in done.stdout
