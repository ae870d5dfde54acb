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
    $sum = /[0-9][0-9.,]*\s*(million|m)\s*(united states\s*|us\s*)?(dollars|usd|euros?|pounds)/ nocase
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
    $address = /\b(bc1[a-z0-9]{25,59}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})\b/
    $bitcoin = /bitcoin|btc wallet|crypto wallet/ nocase
    $webcam = "webcam" nocase
    $recorded = /recorded (you|a video)/ nocase
    $deadline = /(24|48|72) hours/ nocase
    $contacts = "your contacts" nocase
    $profit = /guaranteed (return|profit)|double your/ nocase

  condition:
    $address and $bitcoin and 2 of ($webcam, $recorded, $deadline, $contacts, $profit)
}
