"""The outside world: benign web sites, mail partners, and pools for attacker infrastructure.

Only RFC 5737 addresses and reserved ``.example``/``.test`` names (plus a few
``*.example.jp`` look-alikes for domestic sites) are used.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebSite:
    host: str
    ip: str
    country: str
    https: bool
    pages: tuple[str, ...]
    assets: int  # typical number of images/scripts fetched with a page


BENIGN_SITES = (
    WebSite("news.example.jp", "192.0.2.10", "Japan", False,
            ("/", "/top.html", "/national/20150908.html", "/economy/", "/sports/"), 4),
    WebSite("www.weather.example.jp", "192.0.2.11", "Japan", False,
            ("/", "/forecast/13/", "/forecast/27/", "/typhoon/"), 3),
    WebSite("travel.example.jp", "192.0.2.12", "Japan", False, ("/", "/hotel/osaka/"), 3),
    WebSite("www.partner.example.co.jp", "192.0.2.13", "Japan", False,
            ("/", "/products/", "/ir/"), 2),
    WebSite("bank.example.jp", "192.0.2.14", "Japan", True, ("/",), 0),
    WebSite("portal.example", "198.51.100.120", "United States", True, ("/",), 0),
    WebSite("search.example", "198.51.100.121", "United States", True, ("/",), 0),
    WebSite("shop.example.com", "198.51.100.122", "United States", False,
            ("/", "/item/4711", "/cart"), 4),
    WebSite("map.example", "198.51.100.123", "United States", False, ("/", "/tile/13/"), 5),
    WebSite("video.example", "198.51.100.124", "United States", False, ("/", "/watch"), 2),
    WebSite("docs.vendor.example", "203.0.113.21", "Singapore", False, ("/", "/manual/"), 2),
)
CDN = WebSite("cdn.example.net", "198.51.100.130", "United States", False, (), 0)
UPDATE_SITE = WebSite("update.software.example", "203.0.113.20", "United States", False,
                      ("/pub/setup_2015_09.exe",), 0)
ADWARE_SITE = WebSite("free-toolbar.test", "203.0.113.30", "Ukraine", False,
                      ("/download/toolbar_setup.exe",), 0)

MAIL_PARTNERS = (
    ("eigyo@partner.example.co.jp", "203.0.113.41"),
    ("info@shop.example.com", "198.51.100.140"),
    ("support@vendor.example", "203.0.113.42"),
    ("newsletter@news.example.jp", "192.0.2.30"),
    ("keiri@kaikei.example.jp", "192.0.2.31"),
    ("hr@recruit.example", "198.51.100.141"),
)
BENIGN_SUBJECTS = (
    "お見積りのご依頼", "9月分請求書送付のご案内", "会議日程の件", "納品書送付のお知らせ",
    "Re: 打ち合わせの件", "メールマガジン 9月号", "セミナーのご案内", "採用面接の日程調整",
    "契約書のご確認", "議事録の送付",
)
BENIGN_ATTACHMENTS = ("見積書.pdf", "請求書_201509.pdf", "納品書.pdf", "議事録.docx",
                      "日程表.xlsx", "契約書_案.docx", "製品カタログ.pdf")
SPAM_SENDERS = (("promo@cheap-pills.test", "203.0.113.150"), ("win@lottery.test", "192.0.2.150"))

# Attacker infrastructure is drawn from these per seed.
COMPROMISED_SITES = (
    "www.hanaya-kyoto.example", "blog.karuta-club.example", "www.sakura-dental.test",
    "shop.tatami-ya.example", "www.yamabiko-farm.test", "www.onsen-ryokan.example",
)
C2_PATHS = ("/wp-content/themes/twentyten/{w}.php", "/wp-includes/js/{w}.php",
            "/wp-content/plugins/akismet/{w}.php", "/wp-admin/includes/{w}.php")
IP_CHECK_HOSTS = ("ip-addr.example", "myip.test", "whatismyip.example")
TOR_GATEWAYS = ("onion.city", "onion.to", "tor2web.org")
EK_GATE_DOMAINS = ("redirect.example", "cdn-stats.test", "trk-ads.example")
EK_LANDING_DOMAINS = ("wxy-hosting.example", "best-deals.test", "kpn-media.example")
DOWNLOADER_DOMAINS = ("files-share.test", "dl-center.example", "static-cdn.test")
LURES = ("請求書", "注文書", "見積依頼", "納品書", "FAX受信")
MAL_SENDER_DOMAINS = ("billing-center.example", "fax-service.test", "order-desk.example")
SPAM_RECIPIENT_DOMAINS = ("example.com", "example.net", "example.org", "mail.test",
                          "webmail.example", "isp.test", "mailhost.example")
