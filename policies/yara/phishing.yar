// HTML that collects credentials: a form with a password field posting to a web site.

rule HTML_Credential_Form : phishing
{
  meta:
    score = 8
    action = "quarantine"
    description = "an HTML form asks for a password and sends it to a web site (credential phishing)"
    flags = "phishing_form"

  strings:
    $form = /<form[^>]{0,400}action\s*=\s*["']?https?:\/\//i
    $password = /<input[^>]{0,300}type\s*=\s*["']?password/i

  condition:
    $form and $password
}
