"""The edge's own sentences (clarify, hand-off), in every language the demo shop speaks."""

from __future__ import annotations

__all__ = ["phrase"]

_PHRASES: dict[str, dict[str, str]] = {
    "clarify": {
        "en": "Sorry, I'm not sure I understood. Do you mean: {options}?",
        "de": "Entschuldigung, ich bin nicht sicher, ob ich Sie verstanden habe. Meinen Sie: {options}?",
        "fr": "Désolé, je ne suis pas sûr d'avoir compris. Voulez-vous dire : {options} ?",
        "es": "Perdona, no estoy seguro de haberte entendido. ¿Te refieres a: {options}?",
        "it": "Scusa, non sono sicuro di aver capito. Intendi: {options}?",
        "pt": "Desculpe, não tenho certeza se entendi. Você quer dizer: {options}?",
        "nl": "Sorry, ik weet niet zeker of ik het begrijp. Bedoelt u: {options}?",
        "pl": "Przepraszam, nie jestem pewien, czy dobrze rozumiem. Czy chodzi o: {options}?",
    },
    "out_of_scope": {
        "en": "I can help with orders, deliveries, returns, refunds, payments and your account. "
        "Could you tell me more about what you need?",
        "de": "Ich helfe bei Bestellungen, Lieferungen, Rücksendungen, Erstattungen, Zahlungen und Ihrem "
        "Konto. Können Sie mir mehr dazu sagen, was Sie brauchen?",
        "fr": "Je peux vous aider pour les commandes, livraisons, retours, remboursements, paiements et "
        "votre compte. Pouvez-vous m'en dire plus ?",
        "es": "Puedo ayudarte con pedidos, envíos, devoluciones, reembolsos, pagos y tu cuenta. "
        "¿Puedes contarme un poco más?",
        "it": "Posso aiutarti con ordini, spedizioni, resi, rimborsi, pagamenti e il tuo account. "
        "Puoi dirmi qualcosa di più?",
        "pt": "Posso ajudar com pedidos, entregas, devoluções, reembolsos, pagamentos e a sua conta. "
        "Pode contar-me um pouco mais?",
        "nl": "Ik help met bestellingen, leveringen, retouren, terugbetalingen, betalingen en uw account. "
        "Kunt u mij meer vertellen?",
        "pl": "Mogę pomóc w sprawie zamówień, dostaw, zwrotów, refundacji, płatności i konta. "
        "Czy możesz powiedzieć coś więcej?",
    },
    "handoff": {
        "en": "Thanks, I've passed this to a specialist who will reply here shortly.",
        "de": "Danke, ich habe Ihr Anliegen an einen Spezialisten weitergegeben, der Ihnen hier in Kürze antwortet.",
        "fr": "Merci, j'ai transmis votre demande à un spécialiste qui vous répondra ici sous peu.",
        "es": "Gracias, he pasado tu consulta a un especialista que te responderá aquí en breve.",
        "it": "Grazie, ho inoltrato la tua richiesta a uno specialista che ti risponderà qui a breve.",
        "pt": "Obrigado, encaminhei o seu pedido a um especialista que responderá aqui em breve.",
        "nl": "Bedankt, ik heb uw vraag doorgegeven aan een specialist die hier snel reageert.",
        "pl": "Dziękuję, przekazałem sprawę specjaliście, który wkrótce odpowie tutaj.",
    },
    "gave_up": {
        "en": "I'm sorry: I could not get an answer to this message from our support system. "
        "Please send it again later, or write to our support team.",
        "de": "Es tut mir leid: Ich konnte von unserem Support-System keine Antwort auf diese Nachricht "
        "bekommen. Bitte senden Sie sie später erneut oder schreiben Sie unserem Support-Team.",
        "fr": "Je suis désolé : je n'ai pas pu obtenir de réponse à ce message de notre système d'assistance. "
        "Renvoyez-le plus tard ou écrivez à notre équipe d'assistance.",
        "es": "Lo siento: no he podido obtener respuesta a este mensaje de nuestro sistema de atención. "
        "Vuelve a enviarlo más tarde o escribe a nuestro equipo de atención.",
        "it": "Mi dispiace: non sono riuscito a ottenere una risposta a questo messaggio dal nostro sistema di "
        "assistenza. Invialo di nuovo più tardi o scrivi al nostro team di assistenza.",
        "pt": "Lamento: não consegui obter resposta a esta mensagem do nosso sistema de apoio. "
        "Envie-a novamente mais tarde ou escreva à nossa equipa de apoio.",
        "nl": "Het spijt me: ik kon van ons klantenservicesysteem geen antwoord op dit bericht krijgen. "
        "Stuur het later opnieuw of schrijf naar ons klantenserviceteam.",
        "pl": "Przepraszam: nie udało mi się uzyskać odpowiedzi na tę wiadomość z naszego systemu obsługi. "
        "Wyślij ją ponownie później lub napisz do naszego zespołu obsługi.",
    },
}


def phrase(key: str, lang: str, default_lang: str = "en", **values: str) -> str:
    table = _PHRASES[key]
    template = table.get(lang) or table.get(default_lang) or table["en"]
    return template.format(**values) if values else template
