"""The run summary's sentences in each configured language (en, es, pt): data, kept apart from the rendering.

Placeholders are `str.format` fields; numbers arrive formatted. Table column names and policy names stay as the
warehouse spells them (an analyst searches for them), the sentences a marketing manager reads are translated.
"""

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "# Tonight's plan — as of {as_of}",
        "run": "Run `{run}`.",
        "attention": "## Needs attention",
        "unmatched": "{rows} randomised campaign rows name action id '{action}', which is not in the action catalog: "
                     "they were ignored (rename the action in the catalog or map the ids in the extract)",
        "priors_only": "no action has a value model yet: every action's value comes from its catalog prior, not from "
                       "measured results",
        "baseline": "**Baseline scoring**: {target} is scored by the {rule} rule, not a trained model (no model beat it).",
        "quarantine_up": "{share} of the {extract} rows were quarantined tonight (last night {previous}): check the "
                         "delivery",
        "drift": "drift since last night in {columns}: check the extracts before trusting tonight's scores",
        "plan": "## The plan",
        "plan_line": "Tonight's plan contacts **{contacts}** customers; it is expected to be worth **{value} {currency}** "
                     "of incremental net margin over the **{horizon}** after the contact (compared with not "
                     "contacting them).",
        "plan_none": "Tonight's plan contacts nobody.",
        "holdout_line": "**Held out:** {holdout} customers get no action on purpose (the universal holdout); {withheld} "
                        "of them would have been contacted. Comparing them with the contacted customers measures what "
                        "the plan really earns.",
        "exploration_line": "**Explored:** {explored} customers get a random permitted option instead of the plan's "
                            "(exploration, with its probability recorded, so that the models keep learning); {contacted} "
                            "of them are contacted. They are not part of the plan or its value.",
        "calls_line": "Calls used: {calls} of {capacity}; expected offer spend {spend} of {budget} {currency}.",
        "contacts_table": "Customers per action and channel (plan, exploration and holdout apart; value of the plan's "
                          "contacts in {currency}):",
        "changes": "## What changed since last night",
        "first_night": "- This is the first night: nothing to compare with.",
        "change_value": "- Plan value: {value} {currency} (last night {previous} {currency}).",
        "change_contacts": "- Customers contacted by the plan: {contacts} (last night {previous}).",
        "change_policy": "- The policy driving the plan changed from **{previous}** to **{policy}**.",
        "change_models": "- New model versions: {models}.",
        "change_none": "- Policy and model versions unchanged.",
        "intake": "## Intake (rows in = accepted + quarantined + not yet known)",
        "not_yet_known": "- {rows} rows are dated after the as-of date (a backfill on later extracts): set aside as not "
                         "yet known tonight (rule `not_yet_known`), not counted as bad rows.",
        "models": "## Models scoring tonight",
        "costs": "## What the constraints cost (value left on the table)",
        "contact_rules": "- contact rules (frequency caps, cool-down after a decline) closed the best option worth "
                         "sending of {customers} customers tonight; their best open options are estimated at {value} "
                         "less in all ({reasons}). The caps count the plan's own lists, so an action sent every night "
                         "on one channel reaches last night's customers again only once the cap's window has passed.",
        "policy": "## Which policy drives tonight's plan",
        "deployed": "Deployed: **{winner}** — {reason}.",
        "evidence": "**Held back by too little evidence:** **{policy}** is estimated at {value} ± {se} but its "
                    "lower bound is not above the deployed policy's. It is measured on {rows} randomised rows of "
                    "'{action}' (contacted and control); about {more} more, with the same contacted share (×{factor} "
                    "in all), would show it if its estimate holds — e.g. a randomised '{action}' campaign with a "
                    "no-contact control group.",
        "candidates": "Estimated incremental value of each candidate over tonight's customers (doubly robust, on "
                      "randomised contacts):",
        "none": "_(none)_",
        "days": "days",
    },
    "es": {
        "title": "# El plan de esta noche — fecha de corte {as_of}",
        "run": "Ejecución `{run}`.",
        "attention": "## Requiere atención",
        "unmatched": "{rows} filas de campañas aleatorizadas usan el id de acción '{action}', que no está en el "
                     "catálogo de acciones: se ignoraron (renombre la acción en el catálogo o mapee los ids en el extracto)",
        "priors_only": "ninguna acción tiene todavía un modelo de valor: el valor de cada acción viene de su valor "
                       "previo del catálogo, no de resultados medidos",
        "baseline": "**Puntuación de referencia**: {target} se puntúa con la regla {rule}, no con un modelo entrenado "
                    "(ningún modelo la superó).",
        "quarantine_up": "esta noche se pusieron en cuarentena el {share} de las filas de {extract} (anoche {previous}): "
                         "revise la entrega",
        "drift": "deriva desde anoche en {columns}: revise los extractos antes de confiar en las puntuaciones de "
                 "esta noche",
        "plan": "## El plan",
        "plan_line": "El plan de esta noche contacta a **{contacts}** clientes; se espera que aporte **{value} {currency}** "
                     "de margen neto incremental en los **{horizon}** siguientes al contacto (frente a no "
                     "contactarlos).",
        "plan_none": "El plan de esta noche no contacta a nadie.",
        "holdout_line": "**Grupo de control:** {holdout} clientes no reciben ninguna acción a propósito (el grupo de "
                        "control universal); {withheld} de ellos habrían sido contactados. Compararlos con los clientes "
                        "contactados mide lo que el plan gana de verdad.",
        "exploration_line": "**Exploración:** {explored} clientes reciben una opción permitida al azar en lugar de la "
                            "del plan (exploración, con su probabilidad registrada, para que los modelos sigan "
                            "aprendiendo); {contacted} de ellos son contactados. No forman parte del plan ni de su valor.",
        "calls_line": "Llamadas usadas: {calls} de {capacity}; gasto previsto en ofertas {spend} de {budget} {currency}.",
        "contacts_table": "Clientes por acción y canal (plan, exploración y grupo de control por separado; valor de los "
                          "contactos del plan en {currency}):",
        "changes": "## Qué cambió desde anoche",
        "first_night": "- Es la primera noche: no hay nada con qué comparar.",
        "change_value": "- Valor del plan: {value} {currency} (anoche {previous} {currency}).",
        "change_contacts": "- Clientes contactados por el plan: {contacts} (anoche {previous}).",
        "change_policy": "- La política que guía el plan cambió de **{previous}** a **{policy}**.",
        "change_models": "- Nuevas versiones de modelos: {models}.",
        "change_none": "- Política y versiones de modelos sin cambios.",
        "intake": "## Entrada (filas recibidas = aceptadas + en cuarentena + aún no conocidas)",
        "not_yet_known": "- {rows} filas tienen fecha posterior a la fecha de corte (un reproceso con extractos "
                         "posteriores): apartadas como aún no conocidas (regla `not_yet_known`), no cuentan como filas "
                         "erróneas.",
        "models": "## Modelos que puntúan esta noche",
        "costs": "## Lo que cuestan las restricciones (valor que se deja sobre la mesa)",
        "contact_rules": "- las reglas de contacto (topes de frecuencia, pausa tras un rechazo) cerraron esta noche la "
                         "mejor opción que valía la pena enviar a {customers} clientes; sus mejores opciones abiertas "
                         "se estiman en {value} menos en total ({reasons}). Los topes cuentan las listas del propio "
                         "plan: una acción enviada cada noche por un canal vuelve a llegar a los clientes de anoche "
                         "solo cuando ha pasado la ventana del tope.",
        "policy": "## Qué política guía el plan de esta noche",
        "deployed": "Desplegada: **{winner}** — {reason}.",
        "evidence": "**Retenida por falta de evidencia:** **{policy}** se estima en {value} ± {se}, pero su cota "
                    "inferior no supera la de la política desplegada. Se mide sobre {rows} filas aleatorizadas de "
                    "'{action}' (contactadas y de control); unas {more} más, con la misma proporción de contactados "
                    "(×{factor} en total), la mostrarían si su estimación se mantiene — p. ej. una campaña "
                    "aleatorizada de '{action}' con un grupo de control sin contacto.",
        "candidates": "Valor incremental estimado de cada candidata sobre los clientes de esta noche (doblemente "
                      "robusto, sobre contactos aleatorizados):",
        "none": "_(ninguna)_",
        "days": "días",
    },
    "pt": {
        "title": "# O plano desta noite — data de corte {as_of}",
        "run": "Execução `{run}`.",
        "attention": "## Requer atenção",
        "unmatched": "{rows} linhas de campanhas aleatorizadas usam o id de ação '{action}', que não está no catálogo "
                     "de ações: foram ignoradas (renomeie a ação no catálogo ou mapeie os ids no extrato)",
        "priors_only": "nenhuma ação tem ainda um modelo de valor: o valor de cada ação vem do seu valor prévio do "
                       "catálogo, não de resultados medidos",
        "baseline": "**Pontuação de referência**: {target} é pontuado pela regra {rule}, não por um modelo treinado "
                    "(nenhum modelo a superou).",
        "quarantine_up": "esta noite {share} das linhas de {extract} foram para quarentena (ontem {previous}): verifique "
                         "a entrega",
        "drift": "desvio desde ontem em {columns}: verifique os extratos antes de confiar nas pontuações desta noite",
        "plan": "## O plano",
        "plan_line": "O plano desta noite contacta **{contacts}** clientes; espera-se que valha **{value} {currency}** de "
                     "margem líquida incremental nos **{horizon}** seguintes ao contacto (em comparação com não os "
                     "contactar).",
        "plan_none": "O plano desta noite não contacta ninguém.",
        "holdout_line": "**Grupo de controlo:** {holdout} clientes não recebem nenhuma ação de propósito (o grupo de "
                        "controlo universal); {withheld} deles teriam sido contactados. Compará-los com os clientes "
                        "contactados mede o que o plano realmente ganha.",
        "exploration_line": "**Exploração:** {explored} clientes recebem uma opção permitida ao acaso em vez da do "
                            "plano (exploração, com a probabilidade registada, para que os modelos continuem a "
                            "aprender); {contacted} deles são contactados. Não fazem parte do plano nem do seu valor.",
        "calls_line": "Chamadas usadas: {calls} de {capacity}; gasto previsto em ofertas {spend} de {budget} {currency}.",
        "contacts_table": "Clientes por ação e canal (plano, exploração e grupo de controlo separados; valor dos "
                          "contactos do plano em {currency}):",
        "changes": "## O que mudou desde ontem",
        "first_night": "- É a primeira noite: nada com que comparar.",
        "change_value": "- Valor do plano: {value} {currency} (ontem {previous} {currency}).",
        "change_contacts": "- Clientes contactados pelo plano: {contacts} (ontem {previous}).",
        "change_policy": "- A política que orienta o plano mudou de **{previous}** para **{policy}**.",
        "change_models": "- Novas versões de modelos: {models}.",
        "change_none": "- Política e versões dos modelos sem alterações.",
        "intake": "## Entrada (linhas recebidas = aceites + em quarentena + ainda não conhecidas)",
        "not_yet_known": "- {rows} linhas têm data posterior à data de corte (um reprocessamento com extratos "
                         "posteriores): postas de parte como ainda não conhecidas (regra `not_yet_known`), não contam "
                         "como linhas com erro.",
        "models": "## Modelos que pontuam esta noite",
        "costs": "## O que custam as restrições (valor deixado na mesa)",
        "contact_rules": "- as regras de contato (limites de frequência, pausa após uma recusa) fecharam esta noite a "
                         "melhor opção que valia a pena enviar a {customers} clientes; suas melhores opções abertas "
                         "são estimadas em {value} a menos no total ({reasons}). Os limites contam as listas do "
                         "próprio plano: uma ação enviada toda noite por um canal só volta a alcançar os clientes da "
                         "noite anterior depois que a janela do limite passar.",
        "policy": "## Que política orienta o plano desta noite",
        "deployed": "Implementada: **{winner}** — {reason}.",
        "evidence": "**Retida por falta de evidência:** **{policy}** é estimada em {value} ± {se}, mas seu limite "
                    "inferior não supera o da política implantada. É medida em {rows} linhas aleatorizadas de "
                    "'{action}' (contatadas e de controle); cerca de {more} a mais, com a mesma proporção de "
                    "contatados (×{factor} no total), a mostrariam se sua estimativa se mantiver — p. ex. uma "
                    "campanha aleatorizada de '{action}' com um grupo de controle sem contato.",
        "candidates": "Valor incremental estimado de cada candidata sobre os clientes desta noite (duplamente robusto, "
                      "em contactos aleatorizados):",
        "none": "_(nenhuma)_",
        "days": "dias",
    },
}
