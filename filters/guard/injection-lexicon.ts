/**
 * Word classes for the prompt-injection scanner. Rules combine CLASSES by proximity (an override verb
 * near an instructions noun with a prior/above qualifier), so paraphrases match without listing
 * sentences. Entries are written naturally (accents, case) and normalized at load with the same
 * function as the scanned text. Syntax: `stem*` matches any word starting with `stem`; a space matches
 * any run of spaces/punctuation between words; entries in Han/kana/Hangul match as substrings.
 * Weighted classes (role, persona, stealth…) contribute their weight to a noisy-OR score.
 */

export const C = {
  OVERRIDE: 1 << 0, // ignore, disregard, forget …
  FOLLOW: 1 << 1, // follow, obey (an override when negated)
  NEG: 1 << 2,
  INSTR: 1 << 3, // instructions, rules, guidelines …
  ALL: 1 << 4, // everything, all …
  PRIOR: 1 << 5, // previous, above, earlier, original …
  POSS: 1 << 6, // your …
  EXTRACT: 1 << 7, // reveal, print, repeat …
  SYSPROMPT: 1 << 8, // "system prompt" …
  VERBATIM: 1 << 9,
  TEXT: 1 << 10, // text, words, content (for "repeat the words above")
  NOMINAL: 1 << 11, // "the above", "the foregoing"
  ROLE: 1 << 13, // weighted: "you are now", "act as" …
  PERSONA: 1 << 14, // weighted: "developer mode", "do anything now" …
  STEALTH: 1 << 15, // weighted: "without telling the user" …
  CALL: 1 << 16, // call, invoke, execute …
  TOOL: 1 << 17, // tool, function, command …
  SEND: 1 << 18, // send, forward, upload …
  DATA: 1 << 19, // conversation, credentials, history …
  META_Q: 1 << 20, // "how do i", "what is a": questions about the topic
  META: 1 << 21, // "prompt injection", "for example": discussion of the topic
  NEW: 1 << 22, // new, updated, real (instructions)
  SELF: 1 << 23, // my, our: a user correcting their own earlier request is not an attack
  USER_REQ: 1 << 26, // the user's request / question (what an indirect injection tells the model to drop)
  AI_ADDR: 1 << 24, // weighted: text that addresses an AI reader ("if you are an AI", "note to the AI") …
  DIRECTIVE: 1 << 25, // tell the user, reply, include, forward … (what an instruction to that reader asks)
} as const;

export type Entry = readonly [concepts: number, weight: number, words: readonly string[]];

/** Entries are kept as `|`-separated lists so the tables stay readable. */
function words(list: string): string[] {
  return list
    .split("|")
    .map((w) => w.trim())
    .filter((w) => w !== "");
}

// biome-ignore format: word tables read better packed than one entry per line
export const LEXICON: readonly Entry[] = [
  // override verbs: en, es, pt, it, fr, de, ru, zh, ja, ko
  [C.OVERRIDE, 1, words(
    "ignor* | disregard* | forget* | forgot | forgo | skip | bypass* | overrid* | overwrit* |" +
    "neglect* | discard* | abandon* | dismiss* | set aside | put aside | pay no attention | drop |" +
    "scrap | erase | throw out | circumvent* | nevermind | never mind | nullify | supersede* | olvid* |" +
    "omite | omitir | descarta* | desestima* | haz caso omiso | no hagas caso | esqueca* | esquece* |" +
    "desconsider* | descart* | dimentic* | tralascia* | scarta* | oublie* | oubliez |" +
    "ne tiens pas compte | ne tenez pas compte | fais abstraction | faites abstraction | neglige* |" +
    "vergiss* | vergessen | missacht* | uberschreib* | verwirf* | игнорир* | проигнорир* | забудь* |" +
    "забуд* | пренебреги | отбрось* | не обращай внимания | 忽略 | 忽视 | 无视 | 忘记 | 忘掉 | 不要理会 | 不理会 | 抛弃 |" +
    "跳过 | 绕过 | 無視 | 忘れ | 破棄 | 무시 | 잊어 | 잊고 | 잊으",
  )],
  [C.FOLLOW, 1, words(
    "follow* | obey* | adhere | comply | respect | heed | listen to | abide by",
  )],
  [C.NEG, 1, words(
    "not | don | dont | do not | never | no longer | stop | cease | quit | nicht | no | ne",
  )],
  [C.SELF, 1, words(
    "my | mine | our | i gave | i wrote | i sent | mis | mes | meine* | meus | minhas | miei | mie |" +
    "мои | 我的 | 私の",
  )],
  // what gets overridden: instructions, rules, guidelines … in each language
  [C.INSTR, 1, words(
    "instruction* | instruc* | rule | rules | directive* | guideline* | guidance | prompt | prompts |" +
    "commands | constraint* | restriction* | guardrail* | programming | polic* | training |" +
    "safeguard* | limitations | system message | safety | regla* | indicaciones | norma* | directriz |" +
    "directrices | pautas | consigne* | regle* | anweisung* | regel* | vorgabe* | befehl* |" +
    "richtlinie* | instruktion* | regra* | diretriz* | diretrizes | orientac* | regol* | istruzion* |" +
    "diretti* | indicazion* | инструкци* | указани* | правил* | директив* | команд* | 指令 | 指示 | 说明 |" +
    "规则 | 提示 | 命令 | 设定 | ルール | 設定 | 規則 | 지시 | 지침 | 명령 | 규칙 | 프롬프트 | 설정",
  )],
  [C.ALL, 1, words(
    "everything | anything | all | whatever | todo | todas | todos | tout | toutes | tous | alles |" +
    "alle | allen | tudo | tutto | tutte | tutti | все | всё | всех | 所有 | 一切 | 全部 | すべて | 全て | 모든 |" +
    "전부",
  )],
  // qualifiers that point back at earlier instructions
  [C.PRIOR, 1, words(
    "previous* | prior | above | earlier | preceding | former | original* | initial* | existing | old |" +
    "past | aforementioned | foregoing | given | system | developer | preset | pre-existing | so far |" +
    "up to now | earlier | before this | before that | anterior* | previa* | previo* | precedent* |" +
    "arriba | ci-dessus | dessus | initiale* | vorherig* | bisherig* | obig* | vorangegangen* |" +
    "vorigen | fruher* | ursprunglich* | acima | originais | sopra | iniziali | предыдущ* | прежн* |" +
    "предшеств* | вышеуказанн* | выше | исходн* | первоначальн* | ранее | 之前 | 以上 | 上面 | 先前 | 前面 | 原来 |" +
    "原有 | 以前 | 前の | これまでの | 上記 | 先ほど | 上の | 元の | 이전 | 위의 | 앞의 | 기존 | 원래 | 지금까지",
  )],
  // possessives addressing the model
  [C.POSS, 1, words(
    "your | yours | you were given | you have been given | you've been given | you received | tus |" +
    "tu | sus | tes | vos | ton | ta | votre | deine* | ihre | seus | suas | tuas | tue | tuoi | tua |" +
    "tuo | твои | твоих | свои | ваши | твой | твою | 你的 | あなたの | 너의 | 당신의",
  )],
  // weight 0.5: verbs that also ask ordinary questions; 1: verbs that ask for verbatim output
  [C.EXTRACT, 0.5, words(
    "show | tell | give | share | list | paste | copy | provide | what is | what are | what were |" +
    "what's | whats | dime | dame | dis-moi | gib | diga | dimmi | скажи |" +
    // show / give / share / name in other languages weigh as in English: they ask ordinary questions too
    // ("Peux-tu me donner des instructions pour configurer le Wi-Fi ?")
    "muestra* | comparte | montre* | donne* | partage | zeig* | nenn* | mostr* | compartilh*",
  )],
  [C.EXTRACT, 1, words(
    "reveal* | print* | display* | output* | repeat* | echo | recite* | dump | leak* | disclose* |" +
    "expose* | write out | spell out | write down | revela* | imprime* | repite* | escribe |" +
    "affiche* | revele* | repete* | ecris |" +
    "wiederhol* | verrat* | schreib* | revel* | imprim* | repit* | escreva |" +
    "stampa | ripeti* | scrivi | покажи | выведи | раскрой | повтори | напиши |" +
    "распечатай | сообщи | 显示 | 输出 | 打印 | 告诉 | 重复 | 透露 | 展示 | 泄露 | 说出 | 表示 | 出力 | 教え | 繰り返 | 見せ | 明か |" +
    "보여 | 출력 | 알려 | 반복 | 공개",
  )],
  [C.SYSPROMPT, 1, words(
    "system prompt* | system message* | system instruction* | initial prompt* | initial instruction* |" +
    "original prompt* | original instruction* | hidden prompt* | hidden instruction* |" +
    "secret instruction* | pre-prompt | preprompt | developer message* | developer prompt* |" +
    "developer instruction* | meta prompt | meta-prompt | sysprompt | systemprompt* | system-prompt* |" +
    "instructions you were given | prompt del sistema | prompt de sistema | mensaje del sistema |" +
    "what you were told before | what were you told before | before this conversation started |" +
    "before our conversation started | your initial configuration | your original configuration |" +
    "your setup instructions | your hidden rules | the rules you were given |" +
    "instrucciones del sistema | instrucciones iniciales | prompt systeme | invite systeme |" +
    "message systeme | instructions initiales | instructions systeme | systemanweisung* |" +
    "systemnachricht* | ursprunglichen anweisungen | prompt do sistema | mensagem do sistema |" +
    "instrucoes do sistema | prompt di sistema | messaggio di sistema | istruzioni di sistema |" +
    "системный промпт | системное сообщение | системные инструкции | системную подсказку |" +
    "системный запрос | 系统提示 | 系统指令 | 系统消息 | 初始指令 | 提示词 | システムプロンプト | システムメッセージ | 初期指示 | 시스템 프롬프트 |" +
    "시스템 메시지 | 초기 지시",
  )],
  [C.VERBATIM, 1, words(
    "verbatim | word for word | word-for-word | exactly | literally | in full | in its entirety |" +
    "unchanged | palabra por palabra | textualmente | literalmente | mot pour mot | mot a mot |" +
    "textuellement | wortlich | wort fur wort | palavra por palavra | parola per parola |" +
    "testualmente | дословно | слово в слово | 逐字 | 原文 | 原封不动 | そのまま | 一字一句 | 그대로",
  )],
  [C.TEXT, 1, words(
    "text | words | content | contents | lines | sentences | message | messages | conversation |" +
    "initialization",
  )],
  [C.NOMINAL, 1, words(
    "above | foregoing | aforementioned | preceding",
  )],
  [C.NEW, 1, words(
    "new | updated | real | actual | true | revised | nuevas | nouvelles | neue | novas | nuove |" +
    "новые | 新的 | 新しい | 새로운",
  )],
  // role hijack (noisy-OR weights)
  [C.ROLE, 0.4, words(
    "you are now | you're now | from now on you | from now on, you | you are no longer |" +
    "from this point forward you | from this point on you | from here on you | you will behave as |" +
    "you will act as | stop being an assistant | stop being a helpful assistant | stop being an ai |" +
    "stop acting as an assistant |" +
    "you're no longer | ahora eres | a partir de ahora eres | tu es maintenant | desormais tu es |" +
    "a partir de maintenant tu es | du bist jetzt | ab jetzt bist du | ab sofort bist du |" +
    "agora voce e | a partir de agora voce e | ora sei | d'ora in poi sei | теперь ты | отныне ты |" +
    "你现在是 | 从现在开始你是 | 从现在起你是 | 今からあなたは | これからあなたは | あなたは今から | 이제 너는 | 지금부터 너는 | 이제부터 당신은 | 지금부터 당신은",
  )],
  [C.ROLE, 0.3, words(
    "pretend to be | pretend you are | pretend that you are | roleplay as | role-play as |" +
    "role play as | stay in character | remain in character | finge ser | fais semblant | tu so als |" +
    "finja ser | fingi di essere | притворись | 假装你是 | ふりをして | 인 척 | you will now | you must now",
  )],
  [C.ROLE, 0.2, words(
    "act as | acting as | simulate being | behave like | actua como | agis comme | aja como |" +
    "comportati come | веди себя как | 扮演 | として振る舞",
  )],
  // jailbreak personas and unrestricted modes (noisy-OR weights)
  [C.PERSONA, 0.75, words(
    "do anything now",
  )],
  [C.PERSONA, 0.6, words(
    "developer mode enabled | developer mode is enabled | you have been freed | you've been freed |" +
    "you have been jailbroken | safety guidelines are suspended | your guidelines are suspended |" +
    "your rules are suspended | your restrictions are lifted | your restrictions have been lifted |" +
    "your rules no longer apply | your guidelines no longer apply | safety rules no longer apply |" +
    "safety filters are off | safety filters are disabled | your filters are disabled |" +
    "your content policy is disabled | your guardrails are off | guardrails are disabled for you",
  )],
  [C.PERSONA, 0.45, words(
    "jailbroken | sudo mode | you are not bound | you're not bound | broken free",
  )],
  [C.PERSONA, 0.35, words(
    "developer mode | god mode | jailbreak* | uncensored | no restrictions | without restrictions |" +
    "without any restrictions | no filters | without filters | without censorship | no ethical |" +
    "without any content filters | without content filters | no content filters | without any filters |" +
    "root mode | admin access granted | i am your developer | i'm your developer | i am your creator |" +
    "i'm your creator | i created you | i am your programmer |" +
    "no moral* | not bound by | can do anything | opposite mode | modo desarrollador |" +
    "mode developpeur | entwicklermodus | modo desenvolvedor | modalita sviluppatore |" +
    "режим разработчика | 开发者模式 | 開発者モード | 개발자 모드 | sin restricciones | sans restrictions |" +
    "sans restriction | ohne einschrankungen | ohne regeln | sem restricoes | senza restrizioni |" +
    "без ограничений | 没有限制 | 无限制 | 不受限制 | 制限なし | 制限のない | 제한 없이 | 제한 없는",
  )],
  [C.PERSONA, 0.25, words(
    "unrestricted | unfiltered | no limitations | without limitations | no rules | no limits | amoral |" +
    "dev mode | admin mode | break free | content policy",
  )],
  [C.PERSONA, 0.15, words(
    "dan | evil | unethical | free from | chatgpt | openai",
  )],
  // hiding actions from the user (noisy-OR weights)
  [C.STEALTH, 0.5, words(
    "without telling the user | do not tell the user | don't tell the user | dont tell the user |" +
    "without the user's knowledge | without the user knowing",
  )],
  [C.STEALTH, 0.4, words(
    "the user must not know | without telling | without informing | without user confirmation |" +
    "without confirmation | hide this from | do not inform | covertly",
  )],
  [C.STEALTH, 0.35, words(
    "do not mention | don't mention | dont mention | never mention | without asking",
  )],
  [C.STEALTH, 0.3, words(
    "secretly | do not reveal this | don't reveal this",
  )],
  [C.STEALTH, 0.25, words(
    "silently",
  )],
  [C.CALL, 1, words(
    "call | invoke* | execute* | run | trigger | use | fire | perform | make a request",
  )],
  [C.TOOL, 1, words(
    "tool | tools | function | functions | command | api | plugin | endpoint | script | shell |" +
    "terminal | webhook | curl | browser",
  )],
  [C.SEND, 1, words(
    "send | forward | post | upload | email | transmit | exfiltrat* | submit | leak | append",
  )],
  [C.DATA, 1, words(
    "conversation | chat history | history | credentials | password* | api key* | secrets | tokens |" +
    "user data | personal information | personal data | memory | cookies | session | files |" +
    "private data | whole thread | entire thread | email thread | inbox | mailbox | id_rsa | ssh key* |" +
    "private key* | environment variables | env file | address book | contact list",
  )],
  // an instruction hidden in content addresses the AI that will read it (indirect injection); weight 1:
  // only an injected text talks that way; 0.6: also said of an AI in passing
  [C.AI_ADDR, 1, words(
    "if you are an ai | if you're an ai | if you are a language model | if you are an llm |" +
    "if you're a language model | if you're an llm | if you're an assistant | if you're a chatbot |" +
    "if youre an ai | if youre a language model |" +
    "if you are a large language model | if you are an assistant | if you are a chatbot |" +
    "if you are an ai assistant | if you are an ai model | if you are chatgpt | if you are claude |" +
    "if you are gpt | if you are a bot | if you are an agent | if you are an ai agent |" +
    "note to ai | note to the ai | note to llm | note to the llm | note to the assistant | note for the ai |" +
    "note for ai | notes for the ai | attention ai | attention llm | dear ai | dear assistant |" +
    "to any ai | to all ai | any ai reading | ai reading this | llm reading this | model reading this |" +
    "assistant reading this | ai agents reading | instructions for the ai | instructions for ai |" +
    "instructions for the assistant | instructions for llms | message for the ai | message to the ai |" +
    "si eres una ia | si eres un asistente | si eres un modelo de lenguaje | nota para la ia |" +
    "nota para el asistente | si tu es une ia | si vous etes une ia | si tu es un assistant |" +
    "si vous etes un assistant | note a l'ia | note pour l'ia | note a l'assistant |" +
    "wenn du eine ki bist | wenn du ein ki | falls du eine ki bist | wenn sie eine ki sind |" +
    "hinweis fur die ki | hinweis an die ki | nachricht an die ki | se voce e uma ia |" +
    "se voce e um assistente | nota para a ia | se sei un'ia | se sei un ia | se sei un assistente |" +
    "nota per l'ia | если ты ии | если вы ии | если ты ассистент | если ты языковая модель |" +
    "примечание для ии | сообщение для ии | 如果你是ai | 如果你是人工智能 | 如果你是一个ai | 如果你是助手 |" +
    "给ai的 | 致ai | aiへの指示 | あなたがaiなら | aiアシスタントへ | 당신이 ai라면 | ai에게",
  )],
  [C.DIRECTIVE, 1, words(
    "tell the user | tell them | tell him | tell her | inform the user | warn the user | ask the user |" +
    "say | respond | reply | answer | include | insert | add | recommend | mention | forward | send |" +
    "visit | click | direct the user | redirect | must | always | never | do not | don't | dont | ignore |" +
    "disregard | output | print | write | summarize | describe | state | claim | instead | only |" +
    "dile | di | responde | contesta | incluye | reenvia | envia | recomienda | siempre | nunca | no digas |" +
    "dis | dites | reponds | repondez | inclus | incluez | transfere | envoie | recommande | toujours |" +
    "jamais | indique* |" +
    "sag* | antworte* | fuge | leite | sende | empfiehl | immer | niemals | nie |" +
    "diga | responda | inclua | encaminhe | envie | recomende | sempre | nunca |" +
    "rispondi | includi | inoltra | invia | consiglia | sempre | mai |" +
    "скажи | ответь | включи | перешли | отправь | всегда | никогда |" +
    "告诉 | 回答 | 回复 | 包含 | 转发 | 发送 | 推荐 | 总是 | 不要 | 伝え | 答え | 返信 | 含め | 転送 | 送信 |" +
    "말해 | 대답 | 포함 | 전달 | 보내",
  )],
  [C.USER_REQ, 1, words(
    "the user's request | the user's question | the user's query | the user's instructions |" +
    "the user's prompt | the user's message | the users request | the users question | the user request |" +
    "the user question | what the user asked | what the user wants | the original request |" +
    "la solicitud del usuario | la pregunta del usuario | la peticion del usuario | la demande de l'utilisateur |" +
    "la question de l'utilisateur | die anfrage des nutzers | die frage des nutzers | die anfrage des benutzers |" +
    "a pergunta do usuario | o pedido do usuario | la domanda dell'utente | la richiesta dell'utente |" +
    "запрос пользователя | вопрос пользователя | 用户的问题 | 用户的请求 | ユーザーの質問 | ユーザーの依頼 | 사용자의 질문 | 사용자의 요청",
  )],
  [C.META_Q, 1, words(
    "how do i | how to | how can i | how would i | how should i | what is a | what's a |" +
    "what is the purpose | explain | definition of | why do",
  )],
  [C.META, 1, words(
    "prompt injection | prompt-injection | injection attack* | jailbreak attack* | for example | e.g. |" +
    "such as | example of | examples of | red team* | detect* | classifier | attack* | phrases like |" +
    "defend* | mitigat*",
  )],
];
