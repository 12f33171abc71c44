"""Take screenshots of the main pages of a demo registry for docs/screenshots/.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts its own demo (a temporary instance: `registry init`, `registry demo`, gunicorn on a free
port), opens the public pages in ru, kk and en and the staff console as the demo clinician, on a
390 px phone and a 1280 px desktop, in Debian's headless Chromium (`make browser`). Screenshots
are the first screen of each page, stored as palette PNGs to keep the repository small.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("REGISTRY_CHROMEDRIVER", "/usr/bin/chromedriver")
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
LANGUAGES = ("ru", "kk", "en")


class Demo:
    """A demo registry in a temporary instance, served by gunicorn on a free port."""

    def __init__(self):
        self.path = Path(tempfile.mkdtemp(prefix="registry-shots-"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.env = {
            **os.environ,
            "REGISTRY_INSTANCE_PATH": str(self.path),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
        }
        tokens = self.path / "demo-tokens.json"
        for args in (["init"], ["demo", "--save-tokens", str(tokens)]):
            subprocess.run([str(BIN / "registry"), *args], env=self.env, cwd=ROOT, check=True,
                           capture_output=True)  # fmt: skip
        self.users = json.loads(tokens.read_text())["users"]
        self.server = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("the demo server did not start")

    def user(self, role: str) -> dict:
        return next(u for u in self.users if role in u["roles"])

    def stop(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=20)
        shutil.rmtree(self.path, ignore_errors=True)


def browser():
    """Start headless Chromium from Debian's package."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def resize(driver, size: str) -> None:
    width, height = SIZES[size]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"},
    )


def shoot(driver, out: Path, name: str) -> None:
    """Save the first screen as a palette PNG (a fifth of the size of a full-colour one)."""
    from PIL import Image

    path = out / f"{name}.png"
    driver.save_screenshot(str(path))
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    print(f"{path}  {path.stat().st_size // 1024} KB")


def public_pages(driver, demo: Demo, out: Path) -> None:
    """Search, a service with its times, and the anonymity page, in every language and size."""
    from selenium.webdriver.common.by import By

    driver.get(f"{demo.url}/?lang=en")
    service = driver.find_element(By.CSS_SELECTOR, "a[href*='/services/']").get_attribute("href")
    service = service.split("?")[0]
    for lang in LANGUAGES:
        for size in SIZES:
            resize(driver, size)
            for page, url in (
                ("search", f"{demo.url}/?lang={lang}"),
                ("service", f"{service}?lang={lang}"),
                ("anonymity", f"{demo.url}/anonymity?lang={lang}"),
            ):
                driver.get(url)
                shoot(driver, out, f"public-{page}-{lang}-{size}")


def api(demo: Demo, token: str, path: str, body: dict) -> dict:
    """POST JSON to the demo's API with a bearer token; return the answer."""
    request = urllib.request.Request(
        f"{demo.url}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def seed_patients(demo: Demo, token: str) -> tuple[str, str]:
    """Register three anonymous patients and open a methadone episode for one; return its
    pseudonym and episode id."""
    from registry.episodes.examples import ADMISSION_EXAMPLE

    pseudonyms = [api(demo, token, "/api/v1/patients", {"mode": "anonymous"})["pseudonym"]
                  for _ in range(3)]  # fmt: skip
    episode = api(
        demo,
        token,
        "/api/v1/episodes",
        {
            "pseudonym": pseudonyms[0],
            "protocol": "methadone_oat",
            "diagnosis": "F11.2",
            "admitted_on": time.strftime("%Y-%m-%d"),
            "admission": ADMISSION_EXAMPLE,
        },
    )
    return pseudonyms[0], episode["id"]


def sign_in(driver, demo: Demo, user: dict, lang: str) -> None:
    """Sign in to the console as a demo user, with a TOTP code when the role needs one."""
    import pyotp
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(f"{demo.url}/console/sign-in?lang={lang}")
    driver.find_element(By.ID, "name").send_keys(user["name"])
    driver.find_element(By.ID, "password").send_keys(user["console_password"])
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "/console/sign-in?" not in d.current_url)
    if "/sign-in/code" in driver.current_url:
        driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(user["totp_secret"]).now())
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        WebDriverWait(driver, 20).until(lambda d: "/sign-in/code" not in d.current_url)


def console_pages(driver, demo: Demo, out: Path) -> None:
    """The console: a clinician's pages, a clinic admin's and a key custodian's."""
    clinician = demo.user("clinician")
    pseudonym, episode = seed_patients(demo, clinician["token"])
    for lang in ("ru", "en"):
        resize(driver, "desktop")
        driver.delete_all_cookies()
        driver.get(f"{demo.url}/console/sign-in?lang={lang}")
        shoot(driver, out, f"console-sign-in-{lang}-desktop")
        sign_in(driver, demo, clinician, lang)
        for size in SIZES:
            resize(driver, size)
            for page, path in (
                ("home", "/console/"),
                ("register", "/console/patients/new"),
                ("patients", "/console/patients"),
                ("patient", f"/console/patients/{pseudonym}"),
                ("episode", f"/console/episodes/{episode}"),
                ("compliance", "/console/compliance"),
            ):
                driver.get(f"{demo.url}{path}?lang={lang}")
                shoot(driver, out, f"console-{page}-{lang}-{size}")
        for role, pages in (
            ("clinic_admin", (("bookings", "/console/clinic/bookings"),
                              ("staff", "/console/clinic/staff"))),
            ("key_custodian", (("reidentifications", "/console/reidentifications"),
                               ("reveal", "/console/reidentifications/reveal"))),
        ):  # fmt: skip
            sign_in(driver, demo, demo.user(role), lang)
            for page, path in pages:
                driver.get(f"{demo.url}{path}?lang={lang}")
                shoot(driver, out, f"console-{page}-{lang}-desktop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    out = Path(parser.parse_args().out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    demo = Demo()
    driver = browser()
    try:
        public_pages(driver, demo, out)
        console_pages(driver, demo, out)
    finally:
        driver.quit()
        demo.stop()


if __name__ == "__main__":
    main()
