"""Negative-note detection: es / pt / en, accents or not, negations, and neutral notes left alone."""
from __future__ import annotations

import duckdb
import pytest

from models.features.text_signals import DEFAULT_LEXICON_PATH, classify_notes, fold_text, load_lexicon, negative_note_sql

NEGATIVE = [
    # es
    "Esperando el reembolso desde hace dos semanas", "esperando el reembolso", "Llegó roto", "llego roto",
    "No funciona", "El producto no funciona bien", "Todavía no me lo han devuelto", "Sin solución hasta hoy",
    "Quiere cancelar su cuenta", "Me cobraron dos veces", "Pésimo servicio", "Tengo una queja",
    "Nadie me ayudó", "Nunca llegó el pedido",
    # pt
    "Continuo sem solução", "continuo sem solucao", "Produto com defeito", "Não resolveu o problema",
    "nao resolveu", "Não recebi meu pedido", "Ainda aguardando o reembolso", "Produto chegou quebrado",
    "Atendimento péssimo, quero cancelar", "Sem resposta do suporte",
    # en
    "Still waiting for my refund", "still waiting", "It doesn't work", "It doesn’t work", "Never arrived",
    "Item arrived broken", "I didn't receive my order", "Terrible service", "Charged twice for one order",
    "Not happy with the product",
]

NEUTRAL = [
    # es
    "Consulta sobre horarios de la tienda", "Cliente pregunta por el estado del pedido", "Cambio de dirección",
    "Muy contento con la compra", "No, gracias, todo funciona", "Sin problemas con la entrega",
    "No tengo ninguna queja", "Sin problemas y todo llegó bien", "Pedido entregado sin demora",
    # pt
    "Quer saber o prazo de entrega", "Tudo certo, obrigado", "Pedido entregue no prazo",
    "Cliente satisfeito com a solução dada no atendimento", "Sem problemas, chegou bem",
    # en
    "Asked about store opening hours", "Customer updated address", "No problem, thanks", "No problem all good",
    "Customer is not available right now", "Wants to know if the jacket comes in blue", "not bad at all",
    # empty and markup-like input
    "", "   ", "NEG_funciona", None,
]


@pytest.mark.parametrize("note", NEGATIVE)
def test_negative_notes_are_flagged(note):
    assert classify_notes([note]) == [True]


@pytest.mark.parametrize("note", NEUTRAL)
def test_neutral_notes_are_not_flagged(note):
    assert classify_notes([note]) == [False]


def test_classify_notes_keeps_order_and_matches_the_sql_expression():
    notes = ["ok", "llegó roto", None, "tudo certo", "not working"]
    assert classify_notes(notes) == [False, True, False, False, True]
    assert classify_notes([]) == []
    con = duckdb.connect()
    con.execute("CREATE TABLE n AS SELECT * FROM (VALUES (1, 'ok'), (2, 'llegó roto'), (3, NULL)) t(i, note_text)")
    rows = con.execute(f"SELECT {negative_note_sql('note_text', load_lexicon())} FROM n ORDER BY i").fetchall()
    assert [r[0] for r in rows] == [False, True, False]


def test_lexicon_is_folded_and_matches_duckdb_folding():
    lexicon = load_lexicon()
    assert "nao" in lexicon.negators and "no" in lexicon.negators
    assert ("esperando", "reembols*") in lexicon.negative_phrases
    entries = [e.rstrip("*") for e in lexicon.negative + lexicon.positive + lexicon.negators]
    assert all(e == fold_text(e) for e in entries)
    raw = ["não", "péssimo", "solução", "ninguém", "LLEGÓ"]
    folded = duckdb.connect().execute("SELECT [lower(strip_accents(x)) FOR x IN ?]", [raw]).fetchone()[0]
    assert folded == [fold_text(x) for x in raw]


def test_a_custom_lexicon_changes_the_verdict(tmp_path):
    path = tmp_path / "lex.yaml"
    path.write_text(
        'negators: ["no"]\nnegative: [meh]\nnegative_phrases: [cold soup]\npositive: [tasty]\n', encoding="utf-8")
    lexicon = load_lexicon(path)
    assert classify_notes(["meh", "the cold, bland soup", "the cold soup", "no tasty", "roto"], lexicon) == [
        True, False, True, True, False]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("negators: [no]\nnegative: [x]\nnegative_phrases: [a b]\npositive: [y]\n", "entry False in 'negators'"),
        ("negators: ['no']\nnegative: [x]\npositive: [y]\n", "missing the key 'negative_phrases'"),
        ("negators: ['no']\nnegative: [a.b]\nnegative_phrases: [a b]\npositive: [y]\n", "entry 'a.b' in 'negative'"),
        ("negators: ['no']\nnegative: [x]\nnegative_phrases: [single]\npositive: [y]\n", "entry 'single'"),
        ("negators: ['no']\nnegative: [x]\nnegative_phrases: [a b]\npositive: [y]\nphrase_gap_words: 50\n",
         "'phrase_gap_words' must be"),
    ],
)
def test_bad_lexicon_files_are_named_in_the_error(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        load_lexicon(path)
    assert "bad.yaml" in str(err.value)


def test_default_lexicon_file_is_packaged():
    assert DEFAULT_LEXICON_PATH.name == "sentiment.yaml" and DEFAULT_LEXICON_PATH.exists()
