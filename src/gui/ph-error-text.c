/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-error-text"

#include "config.h"

#include <glib/gi18n.h>

#include "ph-error-text.h"
#include "ph-error.h"

void
ph_error_text_get (const GError *error, const char **out_title, const char **out_advice,
                   const char **out_icon_name)
{
  const char *title = _ ("The Chat Failed");
  const char *advice = _ ("Something went wrong. Start a new chat and try again.");
  const char *icon_name = "dialog-error-symbolic";

  g_return_if_fail (error != NULL);

  if (error->domain == PH_ERROR)
    switch ((PhError)error->code)
      {
      case PH_ERROR_INVALID_CODE:
        title = _ ("That Is Not a Code");
        advice
            = _ ("A code looks like 7-orbit-velvet. Check it with the person who gave it to you.");
        icon_name = "dialog-password-symbolic";
        break;
      case PH_ERROR_WRONG_CODE:
        title = _ ("Wrong Code");
        advice = _ ("The code did not match. Ask the other person to start a new chat and read "
                    "you the new code carefully.");
        icon_name = "dialog-password-symbolic";
        break;
      case PH_ERROR_UNKNOWN_CODE:
        title = _ ("Unknown or Expired Code");
        advice = _ ("No chat is waiting with this code. Codes work once and expire after ten "
                    "minutes: ask for a new one.");
        icon_name = "dialog-password-symbolic";
        break;
      case PH_ERROR_MAILBOX_FULL:
        title = _ ("Code Already Used");
        advice = _ ("Two people are already using this code. Ask for a new one.");
        icon_name = "dialog-password-symbolic";
        break;
      case PH_ERROR_POSSIBLE_GUESS:
        title = _ ("Someone May Have Guessed Your Code");
        advice = _ ("Someone tried this code and left without proving they knew it. Start a new "
                    "chat, and read the new code only to the person you want to talk to.");
        icon_name = "dialog-warning-symbolic";
        break;
      case PH_ERROR_BURNED_CODE:
        title = _ ("This Code Already Failed");
        advice = _ ("Someone may be trying to guess it, so Pinhole will not use it again. Ask "
                    "the other person to start a new chat and give you a new code.");
        icon_name = "dialog-password-symbolic";
        break;
      case PH_ERROR_RENDEZVOUS_UNREACHABLE:
        title = _ ("Cannot Reach the Rendezvous Server");
        advice = _ ("Check your internet connection, or the server address in Preferences, then "
                    "try again.");
        icon_name = "network-offline-symbolic";
        break;
      case PH_ERROR_RENDEZVOUS:
        title = _ ("The Rendezvous Server Refused");
        advice = _ ("The server is busy or refused the request. Wait a moment and try again.");
        break;
      case PH_ERROR_ICE_FAILED:
        title = _ ("No Path to Your Peer");
        advice = _ ("Your networks block a direct connection. Add a TURN relay server in "
                    "Preferences and try again.");
        icon_name = "network-error-symbolic";
        break;
      case PH_ERROR_TIMEOUT:
        title = _ ("Your Peer Did Not Answer in Time");
        advice = _ ("Check that both of you are online and start a new chat.");
        icon_name = "network-error-symbolic";
        break;
      case PH_ERROR_SECURITY:
      case PH_ERROR_TAMPERED:
      case PH_ERROR_REPLAYED:
        title = _ ("The Connection Is Not Safe");
        advice = _ ("Someone may be interfering with the connection. Start a new chat, ideally "
                    "from another network.");
        icon_name = "dialog-warning-symbolic";
        break;
      case PH_ERROR_PEER_LEFT:
        title = _ ("Your Peer Left");
        advice = _ ("The other person closed the chat. Start a new one to talk again.");
        break;
      case PH_ERROR_INVALID_DESCRIPTION:
      case PH_ERROR_INVALID_FRAME:
      case PH_ERROR_PROTOCOL:
        title = _ ("Your Peer’s App Misbehaved");
        advice = _ ("Make sure you both use a current version of Pinhole, then start a new chat.");
        break;
      case PH_ERROR_TOO_LARGE:
        title = _ ("Message Too Long");
        advice = _ ("Split the message into shorter ones.");
        break;
      case PH_ERROR_NOT_CONNECTED:
        title = _ ("Not Connected");
        advice = _ ("This chat has ended. Start a new chat to send more messages.");
        break;
      case PH_ERROR_FAILED:
      default:
        break;
      }

  if (out_title != NULL)
    *out_title = title;
  if (out_advice != NULL)
    *out_advice = advice;
  if (out_icon_name != NULL)
    *out_icon_name = icon_name;
}
