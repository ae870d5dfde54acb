// Fraud text: advance-fee ("419") letters and crypto extortion or investment scams. A phrase
// alone proves little, so each rule needs several of them.

rule Advance_Fee_Fraud_Text : scam
{
  meta:
    score = 6
    action = "tag"
    description = "text typical of advance-fee fraud (inheritance, next of kin, fund transfer)"
    flags = "scam_text"

  strings:
    $kin = "next of kin" nocase
    $beneficiary = "beneficiary" nocase
    $sum = /[0-9][0-9.,]*\s*million\s*(united states\s*|us\s*)?(dollars|usd|euros?|pounds)/ nocase
    $transfer = /transfer\s+(of\s+)?(the|this)\s+(fund|sum|money)/ nocase
    $confidential = "strictly confidential" nocase
    $barrister = "barrister" nocase
    $inheritance = "inheritance" nocase
    $deceased = /(late|deceased)\s+(client|husband|father)/ nocase
    $urgent = "urgent response" nocase
    $percent = /[0-9]{1,2}\s*%\s*(of the (total )?(fund|sum))/ nocase

  condition:
    3 of them
}

rule Crypto_Scam_Text : scam
{
  meta:
    score = 10
    action = "quarantine"
    description = "a demand for payment in Bitcoin (extortion or crypto-investment scam)"
    flags = "scam_text"

  strings:
    // Bech32 addresses only: a pattern for legacy ones ("1…", "3…") has no atom to search for
    // and would cost more than every other rule together; the wording carries the rule.
    $address = /bc1[a-z0-9]{25,59}/
    $bitcoin = /bitcoin|btc wallet|crypto wallet/ nocase
    $webcam = "webcam" nocase
    $recorded = /recorded (you|a video)/ nocase
    $deadline = /(24|48|72) hours/ nocase
    $contacts = "your contacts" nocase
    $profit = /guaranteed (return|profit)|double your/ nocase

  condition:
    $bitcoin and 2 of ($address, $webcam, $recorded, $deadline, $contacts, $profit)
}
