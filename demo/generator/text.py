"""Word lists of the demo world generator: names, regions and customer-note templates (es / pt / en).

Notes are built as prefix + body + suffix, so a few dozen bodies give a few thousand distinct,
realistic-looking notes. Bodies include the wordings a lexicon must learn ("esperando el reembolso",
"continuo sem solução", "still waiting for my refund"), negations ("no funciona", "não resolveu")
and positive notes that contain a negated negative word ("no tengo ninguna queja").
"""
from __future__ import annotations

import unicodedata

LANGUAGES = ("es", "pt", "en")
LANGUAGE_SHARES = (0.6, 0.2, 0.2)

FIRST_NAMES = {
    "es": ["María", "José", "Carmen", "Antonio", "Lucía", "Manuel", "Laura", "Javier", "Ana", "David",
           "Marta", "Sergio", "Elena", "Pablo", "Sofía", "Alejandro", "Cristina", "Jorge", "Paula", "Raúl",
           "Nuria", "Íñigo", "Begoña", "Álvaro", "Rocío", "Andrés"],
    "pt": ["João", "Maria", "Ana", "Pedro", "Inês", "Tiago", "Beatriz", "Rui", "Joana", "Gonçalo",
           "Mariana", "André", "Sofia", "Luís", "Catarina", "Conceição", "Margarida", "Diogo"],
    "en": ["James", "Emma", "Oliver", "Sophie", "Jack", "Emily", "Harry", "Olivia", "George", "Amelia",
           "Thomas", "Chloe", "Daniel", "Grace", "Liam", "Charlotte"],
}
LAST_NAMES = {
    "es": ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
           "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Navarro",
           "Torres", "Domínguez", "Núñez", "Ibáñez", "Castaño"],
    "pt": ["Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins", "Jesus",
           "Sousa", "Fernandes", "Gonçalves", "Gomes", "Lopes", "Marques", "Simões", "Araújo", "Magalhães"],
    "en": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
           "Wright", "Thompson", "Evans", "Walker", "White", "O'Brien", "Murphy"],
}
REGIONS = {
    "es": ["Madrid", "Cataluña", "Andalucía", "Comunidad Valenciana", "Galicia", "País Vasco",
           "Castilla y León", "Aragón", "Canarias", "Región de Murcia"],
    "pt": ["Lisboa", "Porto", "Braga", "Galicia", "Madrid"],
    "en": ["Madrid", "Cataluña", "Andalucía", "Islas Baleares", "Comunidad Valenciana", "Canarias"],
}
EMAIL_DOMAINS = ["gmail.com", "hotmail.com", "outlook.com", "yahoo.es", "icloud.com", "telefonica.net",
                 "sapo.pt", "gmail.com", "hotmail.es"]

# Note bodies by language and sentiment: negative / neutral / positive.
NOTE_BODIES = {
    "es": {
        "negative": ["el pedido llegó roto", "esperando el reembolso desde hace semanas", "el producto no funciona",
                     "nadie me contesta", "me cobraron dos veces", "el paquete no ha llegado",
                     "muy mala atención en tienda", "quiero darme de baja",
                     "la talla no corresponde y no me dejan devolverlo",
                     "sigo sin respuesta del servicio técnico", "no funciona el código de descuento",
                     "el repartidor no vino", "no me han devuelto el dinero", "producto defectuoso, segunda vez"],
        "neutral": ["consulta sobre el estado del pedido", "cambio de dirección de entrega", "pregunta por la factura",
                    "solicita cambio de talla", "pregunta por el horario de la tienda",
                    "quiere saber el plazo de entrega"],
        "positive": ["problema resuelto, cliente satisfecha", "muy contento con la atención", "gracias por la rapidez",
                     "todo perfecto", "no tengo ninguna queja", "resuelto a la primera", "el cambio llegó bien"],
    },
    "pt": {
        "negative": ["o pedido chegou quebrado", "continuo sem solução", "não resolveu o problema",
                     "esperando o reembolso", "o produto não funciona", "ninguém me responde", "cobraram duas vezes",
                     "a encomenda não chegou", "péssimo atendimento", "quero cancelar a conta",
                     "ainda aguardo resposta do suporte", "veio com defeito"],
        "neutral": ["dúvida sobre a fatura", "alteração do endereço de entrega", "pergunta sobre o prazo de entrega",
                    "pede troca de tamanho", "quer saber o horário da loja"],
        "positive": ["problema resolvido, obrigado", "atendimento excelente", "muito satisfeita com a compra",
                     "tudo certo, sem reclamações", "resolveram rápido", "chegou tudo bem"],
    },
    "en": {
        "negative": ["still waiting for my refund", "the order arrived broken", "product not working",
                     "nobody answers the phone", "charged twice for the same order", "parcel never arrived",
                     "very poor service at the store", "I want to close my account", "the issue is not resolved",
                     "wrong size sent and the return was refused", "discount code does not work"],
        "neutral": ["question about the invoice", "change of delivery address", "asks about delivery times",
                    "wants to exchange a size", "asks for the store opening hours"],
        "positive": ["issue solved, thanks", "great service, very happy", "quick and helpful support",
                     "no complaints, everything fine", "refund received, thank you", "all sorted at the first call"],
    },
}
NOTE_PREFIXES = {
    "es": ["", "Cliente indica que ", "Nota: ", "Seguimiento: ", "Cliente: "],
    "pt": ["", "Cliente informa que ", "Nota: ", "Acompanhamento: ", "Cliente: "],
    "en": ["", "Customer says ", "Note: ", "Follow-up: ", "Customer: "],
}
NOTE_SUFFIXES = {
    "es": ["", ".", "!!", ". Ref. pedido anterior", " (2ª vez)"],
    "pt": ["", ".", "!!", ". Ref. pedido anterior", " (2ª vez)"],
    "en": ["", ".", "!!", ". Ref. previous order", " (2nd time)"],
}
SENTIMENTS = ("negative", "neutral", "positive")


def fold_ascii(text: str) -> str:
    """Lower-case ASCII form of a name for email addresses ("Núñez" -> "nunez", "O'Brien" -> "obrien")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum())


def note_catalog() -> tuple[list[str], dict[tuple[str, str], tuple[int, int, int, int]]]:
    """All composed notes, and per (language, sentiment) the layout (offset, n_prefix, n_body, n_suffix).

    Note number offset + (prefix * n_body + body) * n_suffix + suffix is that combination's text.
    """
    notes: list[str] = []
    layout: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for lang in LANGUAGES:
        for sentiment in SENTIMENTS:
            prefixes, bodies, suffixes = NOTE_PREFIXES[lang], NOTE_BODIES[lang][sentiment], NOTE_SUFFIXES[lang]
            layout[(lang, sentiment)] = (len(notes), len(prefixes), len(bodies), len(suffixes))
            for prefix in prefixes:
                for body in bodies:
                    for suffix in suffixes:
                        notes.append(prefix + body + suffix)
    return notes, layout
