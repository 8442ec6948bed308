"""Given real-world mails, when parsed, then the connector keeps what the contract asks for."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from connectors.email.mime import parse_mail
from connectors.email.quoting import split_reply
from tests.unit.connectors.email.helpers import mail_bytes, parsed, simple_mail


def test_gmail_reply_in_portuguese_keeps_full_text_ids_and_decoded_headers() -> None:
    # Given a Gmail reply (multipart/alternative, UTF-8 quoted-printable, encoded words)
    raw = mail_bytes("gmail_reply_pt.eml")
    # When it is parsed
    mail = parsed(parse_mail(raw))
    # Then the headers are decoded and the ids normalized, without angle brackets
    assert mail.from_address == "maria.souza@gmail.com"
    assert mail.from_name == "Maria Conceição Souza"
    assert mail.subject == "Re: Pensão alimentícia — documentos"
    assert mail.message_id == "CAOr1gK8mXx2Yq=Qz7uV+3bVb9w@mail.gmail.com"
    assert mail.in_reply_to == "7f0c2a1e-0b5d-5e1f-9f6a-2b3c4d5e6f70@defensoria.sp.def.br"
    assert mail.thread_id == "CAOr1gInitial0001@mail.gmail.com"
    assert mail.date == datetime(2026, 3, 2, 13, 15, 2, tzinfo=UTC)
    assert mail.date_raw == "Mon, 2 Mar 2026 10:15:02 -0300"
    # and the text is the text/plain alternative, quoted history included
    assert mail.text is not None
    assert mail.text.startswith("Bom dia! Consegui a certidão de nascimento das crianças.")
    assert "> Bom dia, Maria." in mail.text
    assert "<div" not in mail.text
    assert mail.files == ()
    assert mail.notes == ()


def test_outlook_reply_in_windows_1252_decodes_curly_quotes_and_lowercases_id_domain() -> None:
    mail = parsed(parse_mail(mail_bytes("outlook_reply_pt.eml")))
    assert mail.text is not None
    assert "Posso levar meu irmão como “testemunha”?" in mail.text
    assert mail.subject == "RES: Audiencia marcada"
    assert mail.from_name == "Silva, Jose"
    assert mail.message_id == "BN8PR12MB1234ABCD5678EF90@bn8pr12mb1234.namprd12.prod.outlook.com"


def test_thunderbird_flowed_reply_joins_its_soft_wrapped_lines() -> None:
    mail = parsed(parse_mail(mail_bytes("thunderbird_reply_en.eml")))
    assert mail.text is not None
    assert mail.text.startswith(
        "Hello, the landlord gave me until Friday to leave the flat. I have the contract and"
    )
    assert mail.references == (
        "root-0001@example.org",
        "b2c3d4e5-0000-5000-8000-000000000002@defensoria.sp.def.br",
    )
    assert mail.thread_id == "root-0001@example.org"


def test_html_only_mail_becomes_text_without_script_style_or_comments() -> None:
    mail = parsed(parse_mail(mail_bytes("html_only.eml")))
    assert mail.text == (
        "Preciso de ajuda com o INSS & a perícia médica.\n\n"
        "Meu benefício foi negado — o que faço?\n\n"
        "Obrigada,\nCarla"
    )
    assert mail.subject == "Pedido de auxílio"


def test_html_blockquote_history_reads_as_quoted_lines() -> None:
    html = (
        b"<div>Sim, tenho o contrato.</div><div class=gmail_quote>"
        b"<div>Em ter., 3 de mar. de 2026, Defensoria escreveu:<br></div>"
        b"<blockquote>Voc\xc3\xaa tem o contrato?</blockquote></div>"
    )
    mail = parsed(parse_mail(simple_mail(html, content_type=b"text/html; charset=utf-8")))
    assert mail.text == (
        "Sim, tenho o contrato.\nEm ter., 3 de mar. de 2026, Defensoria escreveu:\n"
        "> Você tem o contrato?"
    )
    assert split_reply(mail.text).new_text == "Sim, tenho o contrato."


def test_attachments_inline_image_and_encoded_file_names_are_kept_in_order() -> None:
    # Given Gmail's layout: mixed[related[alternative[plain, html], inline png], pdf, docx]
    mail = parsed(parse_mail(mail_bytes("attachments.eml")))
    # Then the body is the plain alternative and every file is kept, in document order
    assert mail.text == "Seguem os documentos. A foto do aviso está abaixo.\n[image: aviso.png]"
    image, pdf, docx = mail.files
    assert (image.filename, image.content_type, image.content_id, image.is_inline) == (
        "aviso.png",
        "image/png",
        "ii_aviso01",
        True,
    )
    assert image.content.startswith(b"\x89PNG")
    # RFC 2231 file name
    assert (pdf.filename, pdf.content_type, pdf.is_inline) == (
        "certidão de nascimento.pdf",
        "application/pdf",
        False,
    )
    assert pdf.content.startswith(b"%PDF-1.4")
    # RFC 2047 in a parameter (Outlook), and a type guessed from the extension
    assert docx.filename == "comprovante de residência.docx"
    assert docx.content_type == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )


def test_forwarded_message_shows_its_headers_and_body_and_brings_its_attachment() -> None:
    mail = parsed(parse_mail(mail_bytes("forwarded.eml")))
    assert mail.subject == "Fwd: Intimação"
    assert mail.text == (
        "Recebi isto do cartório, podem me ajudar?\n\n"
        "---------- Forwarded message ----------\n"
        "From: Cartorio Central <nao-responda@cartorio.example.br>\n"
        "Date: Mon, 9 Mar 2026 09:00:00 -0300\n"
        "Subject: Intimação nº 123\n"
        "To: joana.prado@uol.com.br\n\n"
        "Fica V.Sa. intimada a comparecer."
    )
    assert [f.filename for f in mail.files] == ["intimacao.pdf"]


def test_missing_message_id_is_derived_stably_from_the_raw_bytes() -> None:
    raw = mail_bytes("no_message_id.eml")
    first, again = parsed(parse_mail(raw)), parsed(parse_mail(raw))
    assert first.message_id == again.message_id
    assert first.message_id.endswith("@message-id.acolhe.invalid")
    assert first.is_message_id_derived
    other = parsed(parse_mail(raw.replace(b"sem id", b"outro")))
    assert other.message_id != first.message_id


def test_latin1_8bit_body_and_encoded_latin1_subject() -> None:
    raw = simple_mail(
        "Audiência amanhã às 14h, não posso faltar.\r\n".encode("latin-1"),
        headers=b"Subject: =?iso-8859-1?q?Audi=EAncia?=\r\n",
        content_type=b"text/plain; charset=ISO-8859-1",
        cte=b"8bit",
    )
    mail = parsed(parse_mail(raw))
    assert mail.text == "Audiência amanhã às 14h, não posso faltar."
    assert mail.notes == ()


def test_windows_1252_base64_body_decodes_euro_and_ellipsis() -> None:
    body = base64.encodebytes("Paguei € 300,00 de aluguel… e agora?".encode("cp1252"))
    raw = simple_mail(body, content_type=b'text/plain; charset="windows-1252"', cte=b"base64")
    assert parsed(parse_mail(raw)).text == "Paguei € 300,00 de aluguel… e agora?"


def test_latin1_label_with_windows_1252_bytes_reads_them_as_windows_1252() -> None:
    # Given a body labelled ISO-8859-1 that holds Windows-1252 curly quotes (0x93, 0x94)
    raw = simple_mail(b"ele disse \x93n\xe3o\x94", content_type=b"text/plain; charset=iso-8859-1")
    # Then they read as the quotes the sender typed, as browsers do
    assert parsed(parse_mail(raw)).text == "ele disse “não”"


def test_declared_utf8_that_is_really_latin1_falls_back_and_says_so() -> None:
    raw = simple_mail("Pensão".encode("latin-1"), content_type=b"text/plain; charset=utf-8")
    mail = parsed(parse_mail(raw))
    assert mail.text == "Pensão"
    assert mail.notes == (
        "body: declared charset 'utf-8' does not fit the text; read as windows-1252",
    )


def test_unknown_charset_falls_back_to_utf8_and_says_so() -> None:
    raw = simple_mail("Olá".encode(), content_type=b"text/plain; charset=x-klingon")
    mail = parsed(parse_mail(raw))
    assert mail.text == "Olá"
    assert mail.notes == ("body: declared charset 'x-klingon' is unknown; read as utf-8",)


def test_quoted_printable_with_stray_equals_keeps_it_and_notes_it() -> None:
    raw = simple_mail(b"veja https://example.com/?a=1&b=2 ol=C3=A1\r\n", cte=b"quoted-printable")
    mail = parsed(parse_mail(raw))
    assert mail.text == "veja https://example.com/?a=1&b=2 olá"
    assert mail.notes == ("body: quoted-printable: 2 invalid escapes kept as written",)


def test_raw_utf8_in_headers_is_read_as_utf8() -> None:
    raw = simple_mail(b"oi", headers="Subject: Ação de alimentos\r\n".encode())
    # the helper's own Subject comes first; a mail with one raw UTF-8 subject:
    raw = raw.replace(b"Subject: teste\r\n", b"")
    mail = parsed(parse_mail(raw))
    assert mail.subject == "Ação de alimentos"
    assert mail.from_name == "Cidadã"


def test_split_encoded_words_join_a_character_cut_in_two() -> None:
    # "ç" is C3 A7 in UTF-8; a sloppy encoder puts each byte in its own encoded word
    raw = simple_mail(b"oi", headers=b"Subject: =?utf-8?q?a=C3?= =?utf-8?q?=A7=C3=A3o?=\r\n")
    raw = raw.replace(b"Subject: teste\r\n", b"")
    assert parsed(parse_mail(raw)).subject == "ação"


def test_auto_replies_and_reports_are_marked_automated() -> None:
    auto = simple_mail(b"Estou de ferias", headers=b"Auto-Submitted: auto-replied\r\n")
    bulk = simple_mail(b"news", headers=b"Precedence: bulk\r\n")
    human = simple_mail(b"oi", headers=b"Auto-Submitted: no\r\n")
    assert parsed(parse_mail(auto)).is_automated
    assert parsed(parse_mail(bulk)).is_automated
    assert not parsed(parse_mail(human)).is_automated


def test_date_without_zone_is_utc_and_garbage_date_is_none_with_raw_kept() -> None:
    no_zone = simple_mail(b"x").replace(b"-0300", b"-0000")
    garbage = simple_mail(b"x").replace(b"Mon, 2 Mar 2026 10:00:00 -0300", b"yesterday-ish")
    assert parsed(parse_mail(no_zone)).date == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    bad = parsed(parse_mail(garbage))
    assert bad.date is None
    assert bad.date_raw == "yesterday-ish"


def test_signed_mail_keeps_the_content_and_drops_the_signature() -> None:
    raw = simple_mail(
        b"--s\r\nContent-Type: text/plain\r\n\r\nassinado\r\n"
        b"--s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQE=\r\n--s--\r\n",
        content_type=b'multipart/signed; protocol="application/pkcs7-signature"; boundary=s',
    )
    mail = parsed(parse_mail(raw))
    assert (mail.text, mail.files) == ("assinado", ())


def test_html_with_an_unclosed_head_still_shows_its_body() -> None:
    html = b"<html><head><meta charset=utf-8><title>x</title><body><p>Socorro</p></body>"
    mail = parsed(parse_mail(simple_mail(html, content_type=b"text/html; charset=utf-8")))
    assert mail.text == "Socorro"
