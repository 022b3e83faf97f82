"""Every Indonesian sentence the bot says that is not knowledge-base data, in one place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bot.calendar import format_date
from bot.models import Intent, Pledge, Source, Verdict

VERDICT_LABELS = {
    Verdict.BOLEH: "✅ BOLEH",
    Verdict.DILARANG: "⛔ DILARANG",
    Verdict.BERSYARAT: "⚠️ BERSYARAT (boleh dengan syarat)",
    Verdict.INFO: "ℹ️ INFO",
}

NONE_OF_THESE = "Bukan semuanya"
CLARIFY_PROMPT = "Maksud Anda yang mana? Pilih salah satu di bawah ini:"
NONE_OF_THESE_REPLY = (
    "Baik, maaf belum tepat. Coba tulis ulang pertanyaan Anda dengan kata lain "
    "(misalnya sebutkan kegiatannya: foto, like, kampanye, atribut, hadiah), "
    "atau pilih topik di bawah."
)
FALLBACK = (
    "Maaf, saya belum bisa menjawab pertanyaan itu dengan yakin. Tanya Netral khusus menjawab "
    "soal netralitas ASN (PNS dan PPPK) di Pemilu dan Pilkada.\n\n"
    "Coba tulis dengan kata lain atau pilih topik di bawah. Untuk hal lain, tanyakan ke "
    "BKPSDM/BKD instansi Anda, Bawaslu setempat, atau SP4N-LAPOR! (lapor.go.id)."
)
EMPTY_INPUT = (
    "Silakan ketik pertanyaan Anda tentang netralitas ASN, misalnya: "
    "\"Boleh nggak PNS foto bareng paslon?\""
)
TOO_LONG_NOTE = "(Pesan Anda panjang sekali; saya baca bagian awalnya saja.)"
CAUTION_PREFIX = "⚠️ Catatan: "
BASIS_PREFIX = "⚖️ Dasar: "
SANCTION_PREFIX = "🔨 Sanksi: "
SOURCES_PREFIX = "📚 Sumber: "
TOPIC_MENU = "Pilih topik yang ingin Anda ketahui:"
TOPIC_HEADER = "Topik: {title}\nPilih pertanyaan:"
UNKNOWN_TOPIC = "Topik itu tidak ditemukan. Silakan pilih dari menu topik."
UNKNOWN_INTENT = "Maaf, jawaban itu sudah tidak tersedia. Silakan pilih dari menu topik."
RELATED_LABEL = "Lihat juga"
SCHEDULE_UPCOMING = "🗓️ Tahapan pemilu yang akan datang:"
SCHEDULE_NONE = (
    "🗓️ Belum ada tahapan pemilu mendatang di kalender kami. Jadwal pemilu berikutnya "
    "belum ditetapkan; pantau pengumuman resmi KPU. Tahapan terakhir yang tercatat:"
)
SCHEDULE_FOOTER = "Netralitas ASN berlaku sebelum, selama, dan sesudah tahapan pemilu."


def render_answer(intent: Intent, sources: Iterable[Source]) -> str:
    """Render an answer: verdict first, then explanation, caution, basis, sanction, sources."""
    label = VERDICT_LABELS[intent.verdict] if intent.verdict else "ℹ️"
    parts = [f"{label} — {intent.title}", intent.answer]
    if intent.caution:
        parts.append(CAUTION_PREFIX + intent.caution)
    if intent.basis:
        parts.append(BASIS_PREFIX + "; ".join(intent.basis))
    if intent.sanction:
        parts.append(SANCTION_PREFIX + intent.sanction)
    shorts = [s.short for s in sources]
    if shorts:
        parts.append(SOURCES_PREFIX + "; ".join(shorts))
    return "\n\n".join(parts)


def render_stage(election: str, stage: str, start: str, end: str) -> str:
    """One line of the schedule."""
    when = start if start == end else f"{start} – {end}"
    return f"• {election}: {stage}, {when}"


def render_pledge(pledge: Pledge) -> str:
    """Render the pledge text as a numbered list."""
    points = "\n".join(f"{n}. {point}" for n, point in enumerate(pledge.points, start=1))
    return "\n\n".join(p for p in (f"📜 {pledge.title}", pledge.intro, points, pledge.closing) if p)


# -- Telegram channel -------------------------------------------------------------------------
# (Used by bot/services.py and bot/channels/telegram.py; the commands are named in telegram.py.)
TG_COMMAND_MENU = {
    "mulai": "Mulai dan perkenalan",
    "topik": "Pilih pertanyaan per topik",
    "ikrar": "Ikrar netralitas ASN",
    "lapor": "Cara melapor pelanggaran",
    "jadwal": "Jadwal tahapan pemilu",
    "langganan": "Pengingat jadwal per provinsi",
    "berhenti": "Hentikan pengingat",
    "hapusdata": "Hapus data saya",
    "tentang": "Sumber dan tanggal tinjauan",
    "bantuan": "Daftar perintah",
}
TG_WELCOME = (
    "Halo! 👋 Saya Tanya Netral, asisten tanya jawab netralitas ASN (PNS dan PPPK) di Pemilu "
    "dan Pilkada.\n\n"
    "Ketik saja pertanyaan Anda, misalnya \"Boleh nggak PNS foto bareng paslon?\", atau pilih:\n"
    "/topik — pertanyaan per topik\n"
    "/ikrar — ikrar netralitas\n"
    "/lapor — cara melapor pelanggaran\n"
    "/jadwal — jadwal tahapan pemilu\n"
    "/langganan — pengingat jadwal\n"
    "/bantuan — semua perintah\n\n"
    "ℹ️ Jawaban saya adalah informasi umum, bukan keputusan hukum. Untuk kasus Anda sendiri, "
    "pastikan ke BKPSDM/BKD instansi atau Bawaslu setempat."
)
TG_HELP_HEADER = "Yang bisa saya bantu:"
TG_HELP_FOOTER = (
    "Atau langsung ketik pertanyaan Anda. Di grup, sebut saya (@{username}) atau balas pesan "
    "saya.\n\nℹ️ Informasi umum, bukan keputusan hukum."
)
TG_NON_TEXT = (
    "Maaf, saya hanya bisa membaca teks. 🙏 Silakan ketik pertanyaan Anda, misalnya "
    "\"Boleh nggak PNS like postingan caleg?\""
)
TG_SLOW_DOWN = (
    "Pelan-pelan ya 🙏 Pesan Anda banyak sekali dalam semenit. Tunggu sebentar, lalu kirim lagi "
    "pertanyaan Anda."
)
TG_ERROR = "Maaf, terjadi kesalahan di sisi kami. 🙏 Silakan coba lagi sebentar lagi."
TG_STALE_BUTTON = "Tombol ini sudah tidak berlaku. Silakan ketik /topik atau tulis pertanyaan Anda."
TG_UNKNOWN_COMMAND = (
    "Perintah itu tidak saya kenal. Ketik /bantuan untuk daftar perintah, atau langsung tulis "
    "pertanyaan Anda."
)
TG_FEEDBACK_UP = "👍 Membantu"
TG_FEEDBACK_DOWN = "👎 Kurang tepat"
TG_FEEDBACK_THANKS = "Terima kasih! 🙏"
TG_FEEDBACK_NOTED = "Terima kasih, masukan Anda kami catat untuk perbaikan."
TG_PLEDGE_BUTTON = "✍️ Saya berikrar"
TG_PLEDGE_RECORDED = (
    "✅ Terima kasih! Ikrar netralitas Anda tercatat pada {when}. Tetap netral, tetap melayani."
)
TG_PLEDGE_ALREADY = (
    "Ikrar Anda sudah tercatat sebelumnya pada {when}. Terima kasih, tetap netral! 🙏"
)
TG_SUBSCRIBE_PROMPT = (
    "🔔 Pilih provinsi Anda untuk menerima pengingat tahapan pemilu dan netralitas ASN:"
)
TG_ALL_REGIONS = "🇮🇩 Seluruh Indonesia"
TG_ALL_REGIONS_NAME = "seluruh Indonesia"
TG_SUBSCRIBED = (
    "🔔 Langganan aktif untuk {region}. Saya akan mengirim pengingat menjelang tahapan penting. "
    "Berhenti kapan saja dengan /berhenti."
)
TG_UNKNOWN_REGION = "Wilayah itu tidak dikenal. Silakan pilih lagi lewat /langganan."
TG_UNSUBSCRIBED = "🔕 Pengingat dihentikan. Aktifkan lagi kapan saja dengan /langganan."
TG_NOT_SUBSCRIBED = "Anda belum berlangganan pengingat. Ketik /langganan untuk mulai."
TG_DELETE_CONFIRM = (
    "Hapus semua data Anda di Tanya Netral? Ini mencakup langganan, wilayah, ikrar digital, "
    "dan penilaian 👍/👎. Tindakan ini tidak bisa dibatalkan."
)
TG_DELETE_YES = "🗑️ Ya, hapus"
TG_DELETE_NO = "Batal"
TG_DELETED = "✅ Data Anda sudah dihapus. Anda tetap bisa bertanya kapan saja."
TG_DELETE_CANCELLED = "Baik, data Anda tidak dihapus."
TG_ABOUT_HEADER = (
    "ℹ️ Tentang Tanya Netral\n\n"
    "Jawaban disusun dari peraturan dan pemberitaan resmi tentang netralitas ASN. Ini informasi "
    "umum, bukan keputusan hukum."
)
TG_ABOUT_SOURCES = "📚 Sumber ({count}):"
TG_ABOUT_REVIEWED = "🗓️ Terakhir ditinjau: {date}"
TG_ABOUT_NOT_REVIEWED = "🗓️ Tanggal tinjauan belum tercatat."
TG_ABOUT_OTHER = "Lainnya"
_SOURCE_KIND_LABELS = {
    "regulation": "Peraturan",
    "decision": "Putusan",
    "statement": "Pernyataan resmi",
    "service": "Layanan resmi",
    "article": "Berita",
}


def format_local_time(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """Format an aware datetime in local time: 22 November 2026 pukul 14.05 WIB."""
    local = moment.astimezone(tz)
    return f"{format_date(local.date())} pukul {local:%H.%M} {local.tzname()}"


def render_about(sources: Iterable[Source], reviewed: dt.date | None) -> str:
    """Render /tentang: what the bot is, its sources grouped by kind, the last review date."""
    sources = list(sources)
    groups: dict[str, list[str]] = {}
    for source in sources:
        groups.setdefault(source.kind, []).append(source.short)
    lines = [TG_ABOUT_HEADER, TG_ABOUT_SOURCES.format(count=len(sources))]
    kinds = [*_SOURCE_KIND_LABELS, *(k for k in groups if k not in _SOURCE_KIND_LABELS)]
    for kind in kinds:
        if kind in groups:
            label = _SOURCE_KIND_LABELS.get(kind, TG_ABOUT_OTHER)
            lines.append(f"{label}:\n" + "\n".join(f"• {s}" for s in groups[kind]))
    lines.append(TG_ABOUT_REVIEWED.format(date=format_date(reviewed)) if reviewed
                 else TG_ABOUT_NOT_REVIEWED)
    return "\n\n".join(lines)


def render_help(commands: Iterable[str], username: str) -> str:
    """Render /bantuan: one line per menu command, then how to ask (also in groups)."""
    lines = "\n".join(f"/{name} — {TG_COMMAND_MENU[name]}" for name in commands)
    return f"{TG_HELP_HEADER}\n{lines}\n\n{TG_HELP_FOOTER.format(username=username)}"
