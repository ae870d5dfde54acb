// Office documents with macros: the classic loader of banking trojans and ransomware.
// The exploder opens OOXML files as the zips they are, so the macro project is a member.

rule Office_Macro_OOXML : macro
{
  meta:
    score = 8
    action = "quarantine"
    description = "Office document with macros (docm, xlsm, pptm) held for review; send it as docx, xlsx or PDF"
    flags = "office_macro"

  condition:
    filename matches /(^|\/)vbaProject\.bin$/i
    or filename matches /\.(docm|dotm|xlsm|xltm|xlam|pptm|potm|ppsm)$/i
    or sniffed_type matches /macroenabled/i
}

rule Office_Macro_OLE : macro
{
  meta:
    score = 8
    action = "quarantine"
    description = "Office document with macros (legacy doc or xls with a VBA project) held for review; send it as docx, xlsx or PDF"
    flags = "office_macro"

  strings:
    $project = "_VBA_PROJECT" wide
    $attribute = "Attribute VB_Name"

  condition:
    uint32be(0) == 0xD0CF11E0 and uint32be(4) == 0xA1B11AE1 and any of them
}
